"""Load agent files without running code from them.

An SB3 model zip keeps its class parameters in a JSON file, ``data``; the entries JSON
cannot hold (the policy class, the spaces, the schedules, ...) are cloudpickled there
under ``":serialized:"``, and SB3's own ``load`` unpickles them: a crafted zip runs
whatever its pickle says. Here every serialized entry is decoded by
`AllowlistUnpickler`, which builds only the classes listed in `ALLOWED_GLOBALS`
(numpy arrays, Gymnasium spaces, SB3's policy, buffer and schedule classes, ...) and
refuses every other global (``os.system``, ``builtins.exec``, cloudpickle's code
objects) -- the way ``torch.load(weights_only=True)`` reads tensors. The decoded values
go to SB3 as ``custom_objects``, so SB3 unpickles nothing; the weights (``*.pth``) are
read by SB3 with ``torch.load(weights_only=True)``. The algorithm comes from metadata
that is plain data (the ``.json`` card or ``config.yml`` beside the zip, else the
names in ``data``), never from trying classes until one loads.

``trust=True`` (``--trust-agent`` on the command line) hands the file to SB3's own
loader with full unpickling: for a file you made yourself whose entries the allowlist
does not cover (a custom policy class, a lambda schedule).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

#: Largest ``data`` entry read from a zip [bytes] (SB3 writes a few kB).
MAX_DATA_BYTES = 64 * 2**20

#: The only globals a serialized entry (or a replay buffer) may name.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
    ("builtins", "complex"), ("builtins", "bytearray"), ("collections", "deque"),
    ("collections", "OrderedDict"), ("copyreg", "_reconstructor"), ("builtins", "object"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.dtypes", "Float32DType"), ("numpy.dtypes", "Float64DType"),
    ("numpy.dtypes", "Int64DType"), ("numpy.dtypes", "BoolDType"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("gymnasium.spaces.box", "Box"), ("gymnasium.spaces.discrete", "Discrete"),
    ("gymnasium.spaces.multi_binary", "MultiBinary"),
    ("gymnasium.spaces.multi_discrete", "MultiDiscrete"),
    ("torch", "device"), ("torch.optim.adam", "Adam"), ("torch.optim.rmsprop", "RMSprop"),
    ("torch.nn.modules.activation", "ReLU"), ("torch.nn.modules.activation", "Tanh"),
    ("stable_baselines3.common.policies", "ActorCriticPolicy"),
    ("stable_baselines3.dqn.policies", "DQNPolicy"),
    ("sb3_contrib.common.maskable.policies", "MaskableActorCriticPolicy"),
    ("stable_baselines3.common.buffers", "RolloutBuffer"),
    ("stable_baselines3.common.buffers", "ReplayBuffer"),
    ("sb3_contrib.common.maskable.buffers", "MaskableRolloutBuffer"),
    ("stable_baselines3.common.utils", "FloatSchedule"),
    ("stable_baselines3.common.utils", "ConstantSchedule"),
    ("stable_baselines3.common.utils", "LinearSchedule"),
    ("stable_baselines3.common.type_aliases", "TrainFreq"),
    ("stable_baselines3.common.type_aliases", "TrainFrequencyUnit"),
})

#: Entries that only carry the state of an interrupted rollout: dropped when they do
#: not decode (SB3 resets the env and these buffers before it trains again).
_RESETTABLE = ("_last_obs", "_last_episode_starts", "_last_original_obs",
               "ep_info_buffer", "ep_success_buffer")

_TRUST_HINT = ("load it only if you trust the file: splitgym evaluate/train "
               "--trust-agent, or trust=True in Python")


class AgentFileError(ValueError):
    """An agent file that cannot be loaded safely (or at all)."""


class AgentChecksumError(AgentFileError):
    """A shipped agent whose bytes differ from the SHA-256 in its card."""


class AgentMismatchError(AgentFileError):
    """An agent trained for another model (a different cut count or observation)."""


class AgentModelWarning(UserWarning):
    """An agent trained for another model of the same shape: it runs, but was not
    trained for this model's costs."""


class AllowlistUnpickler(pickle.Unpickler):
    """Builds only the globals of `ALLOWED_GLOBALS`; anything else is refused."""

    def __init__(self, file: Any, what: str) -> None:
        super().__init__(file)
        self.what = what

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise AgentFileError(f"{self.what}: refers to {module}.{name}, which splitgym "
                                 f"does not build from an agent file (unpickling it could "
                                 f"run code); {_TRUST_HINT}")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise AgentFileError(f"{self.what}: has a persistent reference, which splitgym "
                             f"does not load; {_TRUST_HINT}")


def safe_unpickle(blob: bytes, what: str) -> Any:
    """`blob` decoded with `AllowlistUnpickler`; a malformed pickle is an
    `AgentFileError` naming `what`."""
    try:
        return AllowlistUnpickler(io.BytesIO(blob), what).load()
    except AgentFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a malformed pickle
        raise AgentFileError(f"{what}: cannot be decoded ({type(exc).__name__}: "
                             f"{exc})") from None


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_data(path: str | Path) -> dict[str, Any]:
    """The ``data`` JSON of an SB3 zip, as stored (nothing decoded)."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("data")
            if info.file_size > MAX_DATA_BYTES:
                raise AgentFileError(f"agent {str(path)!r}: its data entry is "
                                     f"{info.file_size} bytes (more than {MAX_DATA_BYTES})")
            doc = json.loads(zf.read(info).decode())
    except KeyError:
        raise AgentFileError(f"agent {str(path)!r}: not an SB3 model zip (no data "
                             f"entry)") from None
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError,
            json.JSONDecodeError) as exc:
        raise AgentFileError(f"agent {str(path)!r}: not a readable SB3 model zip "
                             f"({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict):
        raise AgentFileError(f"agent {str(path)!r}: its data entry is not a JSON object")
    return doc


def _serialized(value: Any) -> bool:
    return isinstance(value, dict) and ":serialized:" in value


def algo_from_data(data: dict[str, Any]) -> str | None:
    """The algorithm name implied by the policy class *named* (as text) in ``data``."""
    entry = data.get("policy_class")
    module = entry.get("__module__") if isinstance(entry, dict) else None
    if module == "sb3_contrib.common.maskable.policies":
        return "maskable_ppo"
    if module == "stable_baselines3.dqn.policies":
        return "dqn"
    if module == "stable_baselines3.common.policies":
        return "ppo" if "clip_range" in data else "a2c"
    return None


def safe_custom_objects(path: str | Path, data: dict[str, Any], cls: Any) -> dict[str, Any]:
    """A safe value for every serialized entry of `data`, for SB3's ``custom_objects``:
    decoded through the allowlist, and the policy class checked to be one of `cls`'s."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not _serialized(value):
            continue
        what = f"agent {str(path)!r}: entry {key!r}"
        try:
            blob = base64.b64decode(str(value[":serialized:"]).encode(), validate=True)
            out[key] = safe_unpickle(blob, what)
        except (AgentFileError, binascii.Error):
            if key not in _RESETTABLE:
                raise
            out[key] = None
    policy = out.get("policy_class", data.get("policy_class"))
    allowed = set(getattr(cls, "policy_aliases", {}).values())
    if policy not in allowed:
        names = sorted(f"{c.__module__}.{c.__name__}" for c in allowed)
        raise AgentFileError(f"agent {str(path)!r}: policy_class {policy!r} is not a "
                             f"policy of {cls.__name__} ({names})")
    return out


def load_sb3(path: str | Path, algo: str, cls: Any, env: Any = None, trust: bool = False,
             device: str = "cpu") -> Any:
    """An SB3 model from `path` with class `cls` (`algo` names it in messages): without
    unpickling unless `trust`."""
    if trust:
        return cls.load(str(path), env=env, device=device)
    data = read_data(path)
    custom = safe_custom_objects(path, data, cls)
    try:
        return cls.load(str(path), env=env, device=device, custom_objects=custom)
    except (RuntimeError, KeyError, AssertionError, TypeError) as exc:
        raise AgentFileError(f"agent {str(path)!r}: does not load as {algo} "
                             f"({type(exc).__name__}: {exc})") from None


def load_replay_buffer(model: Any, path: str | Path, trust: bool = False) -> None:
    """``model.load_replay_buffer(path)`` through the allowlist unless `trust`. A
    truncated file raises ``EOFError`` / ``pickle.UnpicklingError`` as SB3's would."""
    if trust:
        model.load_replay_buffer(str(path))
        return
    from stable_baselines3.common.buffers import ReplayBuffer

    blob = Path(path).read_bytes()
    try:
        buf = AllowlistUnpickler(io.BytesIO(blob), f"replay buffer {str(path)!r}").load()
    except (AgentFileError, EOFError, pickle.UnpicklingError):
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed pickle
        raise pickle.UnpicklingError(f"{type(exc).__name__}: {exc}") from None
    if type(buf) is not ReplayBuffer:
        raise AgentFileError(f"replay buffer {str(path)!r}: holds a "
                             f"{type(buf).__name__}, expected a ReplayBuffer")
    buf.device = model.device
    model.replay_buffer = buf
