"""Read and write agent files as data only: no unpickler runs on a file splitgym loads.

An SB3 model zip keeps its class parameters in a JSON entry, ``data``; what JSON cannot
hold (the policy class, the spaces, the schedules, the rollout state) SB3 cloudpickles
into it under ``":serialized:"``, and SB3's own ``load`` unpickles that: a crafted zip
runs whatever its pickle says, and even a pickle of "plain" classes can corrupt memory
(a ``numpy.dtype`` state laid over raw bytes) or allocate without bound. So splitgym
never decodes those entries. Every file it writes (`save_model`: ``splitgym train``'s
checkpoints, ``best_model.zip``, ``model.zip``, the shipped agents) also carries the
same values as plain data of its own:

- ``splitgym.json`` (JSON): the algorithm, the policy class by name (``MlpPolicy``,
  looked up in a fixed table per algorithm), the observation space (shape, dtype,
  bounds as numbers) and action space (``n``), their random generators' states as
  integers, the schedules as numbers (constant or linear), DQN's ``train_freq``, the
  rollout/replay buffer class by name, ``policy_kwargs`` (``net_arch`` widths, the
  optimizer by name and its numeric settings) and the episode-statistics windows;
- ``<entry>.npy``: arrays such as ``_last_obs``, read with ``allow_pickle=False`` after
  their header's dtype (numbers or booleans only), C order and shape are checked
  against the entry's size;
- ``weights/policy/<tensor>.npy`` and ``weights/policy.optimizer/state/<i>/<name>.npy``:
  every tensor of the policy's state dict and of its optimizer's (Adam's ``step``,
  ``exp_avg``, ``exp_avg_sq``; RMSprop's buffers), little-endian float32, float64 or
  int64, each declared in ``splitgym.json``'s ``state_dicts`` by name, shape and dtype,
  beside the optimizer's ``param_groups`` as plain JSON numbers.

SB3's own ``.pth`` entries stay in the zip (so that ``MaskablePPO.load`` still reads it,
for a user who trusts the file), but splitgym never reads them: they are pickles, and
even torch's ``weights_only`` reader is an (allowlist) unpickler.

`load_sb3` rebuilds every ``:serialized:`` entry from that plain data; the other
``data`` values are checked against a fixed table of keys and types (an unknown key is
refused). The declared tensors' numbers are checked against the spaces and
``net_arch`` before any ``.npy`` is read, each ``.npy`` header against its declaration
before its data is (``numpy.load(allow_pickle=False)``), and the tensors
(``torch.from_numpy``) against the model SB3 builds from those values; they reach it
through ``set_parameters`` (``load_state_dict`` of the policy and its optimizer), as in
SB3's ``load``, so a run resumes bit for bit as from SB3's own reader. Before anything
is decompressed every zip entry's declared size, and the file's total, is checked
(`MAX_ENTRY_BYTES`, `MAX_FILE_BYTES`, `MAX_ENTRIES`), and each is read with a capped
read; the model a file asks for (networks, rollout or replay buffer) is bounded by
`MAX_MODEL_BYTES`. A DQN replay buffer is a ``.npz`` of plain arrays written by
`save_replay_buffer`, read the same way. Any refusal is an `AgentFileError` naming the
file and the entry.

``trust=True`` (``--trust-agent`` on the command line) hands the file to SB3's own
loader with full unpickling: only for a file you trust, e.g. one written by SB3 itself
(a custom policy class, a lambda schedule) or by an older splitgym (its weights in the
``.pth`` entries only, refused otherwise).
``python -m splitgym.agents.convert --trust-agent IN OUT`` adds the plain data to such a
file once (it unpickles IN: trust it first). These two are the only unpickling paths,
and both run only on that explicit flag.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import zipfile
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.fileio import write_atomic

#: The plain-data entry splitgym adds to an SB3 zip, and its format tag.
PLAIN_ENTRY = "splitgym.json"
FORMAT = "splitgym-agent/1"
#: Largest zip entry, decompressed [bytes] (a shipped agent's largest is 0.2 MB).
MAX_ENTRY_BYTES = 256 * 2**20
#: Largest file, and largest sum of its entries decompressed [bytes].
MAX_FILE_BYTES = 512 * 2**20
#: Largest JSON entry (``data``, ``splitgym.json``) [bytes] (SB3 writes a few kB).
MAX_JSON_BYTES = 16 * 2**20
#: Largest model a file may ask for: its networks and its rollout or replay buffer [bytes].
MAX_MODEL_BYTES = 2 * 2**30
#: Largest observation length, number of actions and layer width an agent file may declare.
MAX_DIM = 2**20
#: Largest episode-statistics window (SB3's ``stats_window_size``, 100 by default).
MAX_WINDOW = 10**6
#: Most entries a zip may list (an SB3 zip has 6 to 9; splitgym adds one ``.npy`` per
#: tensor of the weights and of the optimizer's state: 61 for a shipped [64, 64] agent,
#: about 1100 for the deepest ``net_arch`` splitgym reads).
MAX_ENTRIES = 4096
#: Largest replay buffer file [bytes].
MAX_BUFFER_FILE_BYTES = MAX_MODEL_BYTES

_TRUST_HINT = ("load it only if you trust the file: splitgym evaluate/train "
               "--trust-agent, or trust=True in Python")
_PTH = ("policy.pth", "policy.optimizer.pth", "pytorch_variables.pth")
_TEXT = ("_stable_baselines3_version", "system_info.txt")
_ARRAY_KEYS = ("_last_obs", "_last_episode_starts", "_last_original_obs")
_ENTRIES = frozenset(("data", PLAIN_ENTRY, *_PTH, *_TEXT, *(f"{k}.npy" for k in _ARRAY_KEYS)))
_ARRAY_DTYPES = frozenset(np.dtype(t) for t in ("bool", "int32", "int64", "float32",
                                                "float64"))
#: The state dicts splitgym writes and reads as ``.npy`` entries under ``weights/``
#: (SB3's ``_get_torch_save_params()`` of every algorithm it trains), their dtypes
#: (little-endian, fixed) and the names an optimizer's per-weight state may use.
_STATE_DICTS = ("policy", "policy.optimizer")
_WEIGHT_DTYPES = frozenset(("<f4", "<f8", "<i8"))
_OPT_STATE = frozenset(("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg",
                        "momentum_buffer", "grad_avg"))
_TENSOR_NAME = re.compile(r"[A-Za-z0-9_]{1,64}(\.[A-Za-z0-9_]{1,64}){0,15}\Z")
_CONVERT_HINT = ("add them once with python -m splitgym.agents.convert --trust-agent IN OUT (it "
                 "unpickles IN: only for a file you trust), or " + _TRUST_HINT)
_BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones",
                  "timeouts")
_BUFFER_ENTRIES = frozenset((*(f"{k}.npy" for k in _BUFFER_ARRAYS), "pos.npy", "full.npy"))


class AgentFileError(ValueError):
    """An agent file that cannot be loaded safely (or at all)."""


class AgentChecksumError(AgentFileError):
    """A shipped agent whose bytes differ from the SHA-256 in its card."""


class AgentMismatchError(AgentFileError):
    """An agent trained for another model (a different cut count or observation)."""


class AgentModelWarning(UserWarning):
    """An agent trained for another model of the same shape: it runs, but was not
    trained for this model's costs."""


class _Bad(Exception):
    """A value that does not fit its entry (message without the file's name)."""


class _NoPlain(Exception):
    """A live value with no plain-data form (saving)."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- reading zips with bounds -----------------------------------------------------------

def read_zip(path: str | Path | bytes, what: str, names: frozenset[str] | None = None,
             max_file: int = MAX_FILE_BYTES, max_entry: int = MAX_ENTRY_BYTES,
             only: frozenset[str] | None = None,
             max_entries: int = MAX_ENTRIES) -> dict[str, bytes]:
    """The entries of a zip file (or of zip bytes) by name, each checked before it is
    decompressed: at most `max_entries` of them (counted from the end-of-directory
    record, before the directory is parsed), a name in `names` (when given) and said
    once, no encryption, stored or deflated, its declared size within `max_entry` and
    the sum within `max_file`; each is read with a capped read (a size that lies is
    refused, as is a bad CRC). `only`: read just these names (the others are still
    checked). `what` begins every message."""
    try:
        if isinstance(path, bytes):
            size, src = len(path), io.BytesIO(path)
        else:
            size, src = os.path.getsize(path), path
        if size > max_file:
            raise AgentFileError(f"{what}: {size} bytes, more than {max_file}")
        _check_directory(src, what, max_entries)
        with zipfile.ZipFile(src) as zf:
            infos = zf.infolist()
            seen: set[str] = set()
            total = 0
            for info in infos:
                name = info.filename
                if name in seen:
                    raise AgentFileError(f"{what}: entry {name!r} appears twice")
                seen.add(name)
                if names is not None and name not in names:
                    raise AgentFileError(f"{what}: entry {name!r} is not one splitgym "
                                         f"reads; {_TRUST_HINT}")
                if info.flag_bits & 0x1:
                    raise AgentFileError(f"{what}: entry {name!r} is encrypted")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise AgentFileError(f"{what}: entry {name!r} uses compression "
                                         f"{info.compress_type} (expected stored or deflated)")
                if info.file_size > max_entry:
                    raise AgentFileError(f"{what}: entry {name!r} declares "
                                         f"{info.file_size} bytes, more than {max_entry}")
                total += info.file_size
                if total > max_file:
                    raise AgentFileError(f"{what}: its entries declare more than "
                                         f"{max_file} bytes in all")
            out = {}
            for info in infos:
                if only is not None and info.filename not in only:
                    continue
                with zf.open(info) as fh:
                    blob = fh.read(info.file_size + 1)
                if len(blob) != info.file_size:
                    raise AgentFileError(f"{what}: entry {info.filename!r} holds "
                                         f"{len(blob)} bytes, its header says "
                                         f"{info.file_size}")
                out[info.filename] = blob
            return out
    except AgentFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError, OverflowError, MemoryError) as exc:
        raise AgentFileError(f"{what}: not a readable zip ({type(exc).__name__}: "
                             f"{_short(exc)})") from None


def _check_directory(src: Any, what: str, max_entries: int) -> None:
    """Refuse a zip whose central directory lists more than `max_entries` entries (or
    is larger than they need) before `zipfile` builds an object per entry: a file of
    millions of empty entries would take gigabytes there. Read with zipfile's own
    end-of-directory finder, so both agree on which directory it is."""
    find = getattr(zipfile, "_EndRecData", None)
    if find is None:  # pragma: no cover - a future Python without it: zipfile alone
        return
    fh = src if isinstance(src, io.BytesIO) else open(src, "rb")  # noqa: SIM115
    try:
        end = find(fh)
    finally:
        if fh is not src:
            fh.close()
        else:
            fh.seek(0)
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    count, dir_bytes = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    if count > max_entries or dir_bytes > max_entries * (46 + 1024):
        raise AgentFileError(f"{what}: its directory lists {count} entries in "
                             f"{dir_bytes} bytes (at most {max_entries})")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:200] + "..."


def _json(blob: bytes, what: str) -> Any:
    if len(blob) > MAX_JSON_BYTES:
        raise AgentFileError(f"{what}: {len(blob)} bytes of JSON, more than {MAX_JSON_BYTES}")
    try:
        return json.loads(blob.decode())
    except RecursionError:
        raise AgentFileError(f"{what}: JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise AgentFileError(f"{what}: not readable JSON ({type(exc).__name__}: "
                             f"{_short(exc)})") from None


def _agent(path: str | Path) -> str:
    return f"agent {str(path)!r}"


def read_data(path: str | Path) -> dict[str, Any]:
    """The ``data`` JSON of an SB3 zip, as stored (nothing decoded)."""
    what = _agent(path)
    entries = read_zip(path, what, only=frozenset({"data"}))
    if "data" not in entries:
        raise AgentFileError(f"{what}: not an SB3 model zip (no data entry)")
    doc = _json(entries["data"], f"{what}: entry 'data'")
    if not isinstance(doc, dict):
        raise AgentFileError(f"{what}: entry 'data': not a JSON object")
    return doc


def read_plain(path: str | Path) -> dict[str, Any] | None:
    """The ``splitgym.json`` of an agent zip, or None when it has none."""
    what = _agent(path)
    entries = read_zip(path, what, only=frozenset({PLAIN_ENTRY}))
    if PLAIN_ENTRY not in entries:
        return None
    doc = _json(entries[PLAIN_ENTRY], f"{what}: entry {PLAIN_ENTRY!r}")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise AgentFileError(f"{what}: entry {PLAIN_ENTRY!r}: not a {FORMAT} object")
    return doc


def zip_is_whole(path: str | Path) -> bool:
    """Whether `path` reads as a whole zip with a ``data`` entry, within the bounds of
    `read_zip` (every entry's CRC checked by a capped read)."""
    try:
        return "data" in read_zip(path, "zip")
    except AgentFileError:
        return False


def zip_steps(path: str | Path) -> int:
    """The ``num_timesteps`` in a zip's ``data`` entry (-1 where unreadable)."""
    try:
        steps = read_data(path).get("num_timesteps", -1)
    except AgentFileError:
        return -1
    return steps if isinstance(steps, int) and not isinstance(steps, bool) else -1


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


# -- plain values: checks (loading) -------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int(lo: int = 0, hi: int = 2**63 - 1, none: bool = False) -> Any:
    def check(v: Any, ctx: dict[str, Any]) -> Any:
        if v is None and none:
            return None
        if not (_is_int(v) and lo <= v <= hi):
            raise _Bad(f"{_show(v)}: expected a whole number in [{lo}, {hi}]"
                       + (" or null" if none else ""))
        return v
    return check


def _real(none: bool = False) -> Any:
    def check(v: Any, ctx: dict[str, Any]) -> Any:
        if v is None and none:
            return None
        if not ((_is_int(v) or isinstance(v, float)) and math.isfinite(v)):
            raise _Bad(f"{_show(v)}: expected a finite number" + (" or null" if none else ""))
        return v
    return check


def _bool(v: Any, ctx: dict[str, Any]) -> Any:
    if not isinstance(v, bool):
        raise _Bad(f"{_show(v)}: expected true or false")
    return v


def _null(v: Any, ctx: dict[str, Any]) -> Any:
    if v is not None:
        raise _Bad(f"{_show(v)}: expected null")
    return None


def _text_or_null(v: Any, ctx: dict[str, Any]) -> Any:
    if v is not None and not (isinstance(v, str) and len(v) <= 4096):
        raise _Bad(f"{_show(v)}: expected a path or null")
    return v


def _empty(kind: type) -> Any:
    def check(v: Any, ctx: dict[str, Any]) -> Any:
        if type(v) is not kind or v:
            raise _Bad(f"{_show(v)}: expected an empty {kind.__name__}")
        return kind()
    return check


def _no_sde(v: Any, ctx: dict[str, Any]) -> Any:
    if v is not False:
        raise _Bad(f"{_show(v)}: expected false (splitgym's agents choose among discrete "
                   f"cuts: no state-dependent exploration)")
    return False


def _show(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, (bytes, bytearray)) else repr(v)
    return text if len(text) <= 60 else text[:60] + "..."


def _policy_class(v: Any, ctx: dict[str, Any]) -> Any:
    aliases = getattr(ctx["cls"], "policy_aliases", {})
    if v != "MlpPolicy" or v not in aliases:
        raise _Bad(f"{_show(v)}: expected \"MlpPolicy\" (the policy of "
                   f"{ctx['cls'].__name__} splitgym builds)")
    return aliases[v]


def _buffer_class(v: Any, ctx: dict[str, Any]) -> Any:
    cls = _buffer_classes()[ctx["algo"]]
    if v != cls.__name__:
        raise _Bad(f"{_show(v)}: expected {cls.__name__!r} (the buffer of "
                   f"{ctx['algo']})")
    return cls


def _buffer_classes() -> dict[str, Any]:
    from sb3_contrib.common.maskable.buffers import MaskableRolloutBuffer
    from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer

    return {"maskable_ppo": MaskableRolloutBuffer, "ppo": RolloutBuffer,
            "a2c": RolloutBuffer, "dqn": ReplayBuffer}


_OPTIMIZERS = ("Adam", "RMSprop")
_ACTIVATIONS = ("ReLU", "Tanh")


def _policy_kwargs(v: Any, ctx: dict[str, Any]) -> Any:
    import torch

    if not isinstance(v, dict):
        raise _Bad(f"{_show(v)}: expected a mapping (net_arch, optimizer_class, ...)")
    allowed = ("net_arch", "optimizer_class", "optimizer_kwargs", "activation_fn",
               "ortho_init")
    out: dict[str, Any] = {}
    for key, value in v.items():
        if key not in allowed:
            raise _Bad(f"key {key!r} is not one splitgym reads (expected {list(allowed)})")
        if key == "net_arch":
            out[key] = _net_arch(value, ctx["algo"])
        elif key == "optimizer_class":
            if value not in _OPTIMIZERS:
                raise _Bad(f"optimizer_class={_show(value)}: expected one of "
                           f"{list(_OPTIMIZERS)}")
            out[key] = getattr(torch.optim, value)
        elif key == "activation_fn":
            if value not in _ACTIVATIONS:
                raise _Bad(f"activation_fn={_show(value)}: expected one of "
                           f"{list(_ACTIVATIONS)}")
            out[key] = getattr(torch.nn, value)
        elif key == "ortho_init":
            out[key] = _bool(value, ctx)
        else:
            if not (isinstance(value, dict) and len(value) <= 16 and all(
                    isinstance(k, str) and (isinstance(x, bool) or _real()(x, ctx) is x)
                    for k, x in value.items())):
                raise _Bad(f"optimizer_kwargs={_show(value)}: expected a mapping of "
                           f"names to numbers")
            out[key] = dict(value)
    return out


def _widths(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 64 and all(
        _is_int(w) and 1 <= w <= MAX_DIM for w in value)


def _net_arch(value: Any, algo: str) -> Any:
    if _widths(value):
        return list(value)
    if algo != "dqn" and isinstance(value, dict) and set(value) == {"pi", "vf"} and all(
            _widths(w) for w in value.values()):
        return {k: list(w) for k, w in value.items()}
    raise _Bad(f"net_arch={_show(value)}: expected a list of at most 64 layer widths "
               f"in [1, {MAX_DIM}]" + (" (or pi/vf lists)" if algo != "dqn" else ""))


def _rng(doc: Any) -> Any:
    """A numpy Generator(PCG64) from its state as integers (or None)."""
    if doc is None:
        return None
    if not (isinstance(doc, dict) and set(doc) == {"state", "inc", "has_uint32",
                                                   "uinteger"}):
        raise _Bad(f"rng={_show(doc)}: expected state, inc, has_uint32, uinteger")
    for key, hi in (("state", 2**128 - 1), ("inc", 2**128 - 1), ("has_uint32", 1),
                    ("uinteger", 2**32 - 1)):
        _int(0, hi)(doc[key], {})
    gen = np.random.Generator(np.random.PCG64(0))
    gen.bit_generator.state = {"bit_generator": "PCG64", "state": {
        "state": doc["state"], "inc": doc["inc"]}, "has_uint32": doc["has_uint32"],
        "uinteger": doc["uinteger"]}
    return gen


def _box(v: Any, ctx: dict[str, Any]) -> Any:
    from gymnasium import spaces

    if not (isinstance(v, dict) and v.get("kind") == "box"
            and set(v) <= {"kind", "shape", "dtype", "low", "high", "rng"}):
        raise _Bad(f"{_show(v)}: expected a box (kind, shape, dtype, low, high)")
    shape = v.get("shape")
    if not (isinstance(shape, list) and 1 <= len(shape) <= 8
            and all(_is_int(d) and 1 <= d <= MAX_DIM for d in shape)
            and math.prod(shape) <= MAX_DIM):
        raise _Bad(f"shape={_show(shape)}: expected at most 8 sizes of at most "
                   f"{MAX_DIM} numbers in all")
    if v.get("dtype") not in ("float32", "float64"):
        raise _Bad(f"dtype={_show(v.get('dtype'))}: expected \"float32\" or \"float64\"")
    size = math.prod(shape)
    bounds = []
    for key in ("low", "high"):
        values = v.get(key)
        if not (isinstance(values, list) and len(values) == size and all(
                _is_int(x) or isinstance(x, float) for x in values)):
            raise _Bad(f"{key}: expected a list of {size} numbers")
        bounds.append(np.array(values, dtype=v["dtype"]).reshape(shape))
    if np.isnan(bounds[0]).any() or np.isnan(bounds[1]).any() or (bounds[0] > bounds[1]).any():
        raise _Bad("low/high: expected numbers with low <= high")
    space = spaces.Box(bounds[0], bounds[1], shape=tuple(shape), dtype=v["dtype"])
    space._np_random = _rng(v.get("rng"))
    ctx["obs_shape"] = tuple(shape)
    return space


def _discrete(v: Any, ctx: dict[str, Any]) -> Any:
    from gymnasium import spaces

    if not (isinstance(v, dict) and v.get("kind") == "discrete"
            and set(v) <= {"kind", "n", "start", "rng"}):
        raise _Bad(f"{_show(v)}: expected a discrete space (kind, n, start)")
    n = _int(1, MAX_DIM)(v.get("n"), ctx)
    start = _int(-MAX_DIM, MAX_DIM)(v.get("start", 0), ctx)
    space = spaces.Discrete(n, start=start)
    space._np_random = _rng(v.get("rng"))
    ctx["n_actions"] = n
    return space


def _schedule(v: Any, ctx: dict[str, Any], depth: int = 0) -> Any:
    from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule

    if v is None and depth == 0:
        return None
    if isinstance(v, dict) and len(v) == 1:
        (kind, arg), = v.items()
        if kind == "constant":
            return ConstantSchedule(_real()(arg, ctx))
        if kind == "linear" and isinstance(arg, list) and len(arg) == 3:
            return LinearSchedule(*(_real()(x, ctx) for x in arg))
        if kind == "float" and depth == 0:
            inner = FloatSchedule(0.0)
            inner.value_schedule = _schedule(arg, ctx, depth + 1)
            return inner
    raise _Bad(f"{_show(v)}: expected a schedule {{\"constant\": x}}, "
               f"{{\"linear\": [start, end, end_fraction]}} or {{\"float\": one of them}}")


def _train_freq(v: Any, ctx: dict[str, Any]) -> Any:
    from stable_baselines3.common.type_aliases import TrainFreq, TrainFrequencyUnit

    if not (isinstance(v, list) and len(v) == 2 and _is_int(v[0]) and 1 <= v[0] <= 2**31
            and v[1] in ("step", "episode")):
        raise _Bad(f"{_show(v)}: expected [frequency >= 1, \"step\" or \"episode\"]")
    return TrainFreq(v[0], TrainFrequencyUnit(v[1]))


def _window(v: Any, ctx: dict[str, Any]) -> Any:
    if not (isinstance(v, dict) and set(v) == {"maxlen", "items"}):
        raise _Bad(f"{_show(v)}: expected maxlen and items")
    maxlen = _int(1, MAX_WINDOW)(v["maxlen"], ctx)
    items = v["items"]
    if not (isinstance(items, list) and len(items) <= maxlen):
        raise _Bad(f"items: expected a list of at most {maxlen}")
    for item in items:
        values = item.values() if isinstance(item, dict) and len(item) <= 16 else [item]
        if not all(isinstance(x, bool) or _real()(x, ctx) is x for x in values) or (
                isinstance(item, dict) and not all(isinstance(k, str) for k in item)):
            raise _Bad(f"item {_show(item)}: expected a number or a mapping of names to "
                       f"numbers")
    return deque(items, maxlen=maxlen)


def _array(key: str) -> Any:
    def check(v: Any, ctx: dict[str, Any]) -> Any:
        if v is None and key != "_last_obs":
            return None
        name = f"{key}.npy"
        if v != {"npy": name}:
            raise _Bad(f"{_show(v)}: expected {{\"npy\": \"{name}\"}}")
        if name not in ctx["entries"]:
            raise _Bad(f"the file has no entry {name!r}")
        arr = read_npy(ctx["entries"][name], f"{ctx['what']}: entry {name!r}")
        want = (ctx["n_envs"],) + (ctx["obs_shape"] if key != "_last_episode_starts"
                                   else ())
        if arr.shape != want:
            raise _Bad(f"an array of shape {arr.shape}, expected {want} (n_envs x "
                       f"observation)")
        return arr
    return check


def read_npy(blob: bytes, what: str, shape: tuple[int, ...] | None = None,
             dtypes: frozenset[np.dtype] = _ARRAY_DTYPES) -> np.ndarray:
    """A ``.npy`` array of numbers or booleans, read with ``allow_pickle=False`` after
    its header is checked, before anything is allocated: a dtype of `dtypes`, C order,
    at most 8 dimensions, `shape` (when given), and as many data bytes as the entry
    holds."""
    try:
        fh = io.BytesIO(blob)
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            got, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            got, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"npy version {version}")
        if dtype not in dtypes or dtype.hasobject:
            raise AgentFileError(f"{what}: dtype {dtype}: expected "
                                 f"{' or '.join(sorted(str(d) for d in dtypes))}")
        if fortran:
            raise AgentFileError(f"{what}: in Fortran order (splitgym writes C order)")
        if len(got) > 8:
            raise AgentFileError(f"{what}: {len(got)} dimensions, at most 8")
        if shape is not None and tuple(got) != shape:
            raise AgentFileError(f"{what}: an array of shape {got}, {PLAIN_ENTRY} "
                                 f"declares {shape}")
        nbytes = math.prod(got) * dtype.itemsize
        if nbytes != len(blob) - fh.tell():
            raise AgentFileError(f"{what}: its header declares {nbytes} bytes of data, "
                                 f"the entry holds {len(blob) - fh.tell()}")
        fh.seek(0)
        return np.load(fh, allow_pickle=False)
    except AgentFileError:
        raise
    except (ValueError, OSError, EOFError, TypeError, SyntaxError, MemoryError,
            RecursionError, OverflowError) as exc:
        raise AgentFileError(f"{what}: not a readable .npy array ({type(exc).__name__}: "
                             f"{_short(exc)})") from None


_N = _int()
#: Every key of an SB3 ``data`` entry splitgym reads, with its check (the value as
#: plain data: from ``data`` itself, or from ``splitgym.json`` for a serialized one).
_KEYS: dict[str, Any] = {
    "policy_class": _policy_class, "observation_space": _box, "action_space": _discrete,
    "verbose": _int(0, 2), "policy_kwargs": _policy_kwargs, "num_timesteps": _N,
    "_total_timesteps": _N, "_num_timesteps_at_start": _N, "seed": _int(0, 2**32 - 1, True),
    "action_noise": _null, "start_time": _N, "learning_rate": _real(),
    "tensorboard_log": _text_or_null, "_last_obs": _array("_last_obs"),
    "_last_episode_starts": _array("_last_episode_starts"),
    "_last_original_obs": _array("_last_original_obs"), "_episode_num": _N,
    "use_sde": _no_sde, "sde_sample_freq": _int(-1), "_current_progress_remaining": _real(),
    "_stats_window_size": _int(1, MAX_WINDOW), "ep_info_buffer": _window,
    "ep_success_buffer": _window, "_n_updates": _N, "n_envs": _int(1, 4096),
    "n_steps": _int(1, 2**31), "gamma": _real(), "gae_lambda": _real(), "ent_coef": _real(),
    "vf_coef": _real(), "max_grad_norm": _real(), "rollout_buffer_class": _buffer_class,
    "rollout_buffer_kwargs": _empty(dict), "batch_size": _int(1, 2**31),
    "n_epochs": _int(1, 2**31), "clip_range": _schedule, "clip_range_vf": _schedule,
    "normalize_advantage": _bool, "target_kl": _real(True), "lr_schedule": _schedule,
    "buffer_size": _int(1, 2**40), "learning_starts": _N, "tau": _real(),
    "gradient_steps": _int(-1, 2**31), "optimize_memory_usage": _bool,
    "replay_buffer_class": _buffer_class, "replay_buffer_kwargs": _empty(dict),
    "train_freq": _train_freq, "use_sde_at_warmup": _bool,
    "exploration_initial_eps": _real(), "exploration_final_eps": _real(),
    "exploration_fraction": _real(), "target_update_interval": _int(1),
    "_n_calls": _N, "exploration_rate": _real(), "exploration_schedule": _schedule,
    "batch_norm_stats": _empty(list), "batch_norm_stats_target": _empty(list),
}
#: Checked first: the others' checks read what these found.
_FIRST = ("observation_space", "action_space", "n_envs", "policy_kwargs")


def _rebuild(path: str | Path, algo: str, cls: Any, data: dict[str, Any],
             plain: dict[str, Any], entries: dict[str, bytes]) -> dict[str, Any]:
    """Every value of `data`, checked, the serialized ones rebuilt from `plain`."""
    what = _agent(path)
    values = plain.get("entries")
    if not isinstance(values, dict):
        raise AgentFileError(f"{what}: entry {PLAIN_ENTRY!r}: no 'entries' object")
    ctx: dict[str, Any] = {"cls": cls, "algo": algo, "entries": entries, "what": what,
                           "n_envs": 1, "obs_shape": None, "n_actions": None}
    for key in ("observation_space", "action_space"):
        if key not in data:
            raise AgentFileError(f"{what}: entry 'data' has no {key!r}")
    out: dict[str, Any] = {}
    for key in sorted(data, key=lambda k: (k not in _FIRST, _FIRST.index(k)
                                           if k in _FIRST else 0)):
        value = data[key]
        where = f"{what}: entry 'data' key {key!r}"
        if key not in _KEYS:
            raise AgentFileError(f"{where}: not a key splitgym reads; {_TRUST_HINT}")
        if _serialized(value):
            if key not in values:
                raise AgentFileError(f"{where}: pickled, and {PLAIN_ENTRY} has no plain "
                                     f"form of it (splitgym does not unpickle); "
                                     f"{_TRUST_HINT}")
            value = values[key]
            where = f"{what}: entry {PLAIN_ENTRY!r} key {key!r}"
        try:
            out[key] = _KEYS[key](value, ctx)
        except _Bad as exc:
            raise AgentFileError(f"{where}: {exc}") from None
        except AgentFileError:
            raise
        except (ValueError, TypeError, OverflowError, MemoryError) as exc:
            raise AgentFileError(f"{where}: {type(exc).__name__}: {_short(exc)}") from None
        if key == "n_envs":
            ctx["n_envs"] = out[key]
    if "policy_class" not in out:
        raise AgentFileError(f"{what}: entry 'data' has no 'policy_class'")
    return out


# -- weights -------------------------------------------------------------------------------

def _mlp(dims: list[int]) -> int:
    return sum(a * b + b for a, b in zip(dims, dims[1:], strict=False))


def _expected_numbers(algo: str, obs: int, n: int, arch: Any) -> int:
    """How many numbers the policy of `algo` has for these sizes (SB3's MlpPolicy)."""
    if algo == "dqn":
        return 2 * _mlp([obs, *arch, n])  # the Q-network and its target
    pi, vf = (arch["pi"], arch["vf"]) if isinstance(arch, dict) else (arch, arch)
    return _mlp([obs, *pi]) + _mlp([obs, *vf]) + _mlp([([obs] + pi)[-1], n]) + \
        _mlp([([obs] + vf)[-1], 1])


def _tensor_spec(v: Any, entry: str) -> tuple[tuple[int, ...], str]:
    """The declared shape and dtype of a tensor stored as `entry` (`_Bad` if odd)."""
    if not (isinstance(v, dict) and set(v) == {"npy", "shape", "dtype"}):
        raise _Bad(f"{_show(v)}: expected npy, shape, dtype")
    if v["npy"] != entry:
        raise _Bad(f"npy={_show(v['npy'])}: expected {_show(entry)}")
    shape = v["shape"]
    if not (isinstance(shape, list) and len(shape) <= 8
            and all(_is_int(d) and 0 <= d <= 2**40 for d in shape)):
        raise _Bad(f"shape={_show(shape)}: expected at most 8 sizes")
    if v["dtype"] not in _WEIGHT_DTYPES:
        raise _Bad(f"dtype={_show(v['dtype'])}: expected one of {sorted(_WEIGHT_DTYPES)}")
    return tuple(shape), v["dtype"]


def _group_value(v: Any) -> Any:
    """An optimizer setting (``lr``, ``betas``, ``eps``, ...) as plain JSON decodes it."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, dict) and set(v) == {"tuple"} and isinstance(v["tuple"], list) and \
            len(v["tuple"]) <= 8:
        return tuple(_real()(x, {}) for x in v["tuple"])
    return _real()(v, {})


def _declared_tensors(doc: Any) -> dict[str, dict[str, tuple[tuple[int, ...], str]]]:
    """The tensors `doc` (``splitgym.json``'s ``state_dicts``) declares, by state dict
    and entry name: their shapes and dtypes, checked (`_Bad` if odd); nothing read."""
    if not (isinstance(doc, dict) and set(doc) == set(_STATE_DICTS)):
        raise _Bad(f"expected the state dicts {list(_STATE_DICTS)}")
    module, optim = doc["policy"], doc["policy.optimizer"]
    out: dict[str, dict[str, tuple[tuple[int, ...], str]]] = {"policy": {},
                                                             "policy.optimizer": {}}
    if not (isinstance(module, dict) and set(module) == {"tensors"}
            and isinstance(module["tensors"], dict) and module["tensors"]):
        raise _Bad("'policy': expected tensors")
    for name, spec in module["tensors"].items():
        if not _TENSOR_NAME.match(name):
            raise _Bad(f"'policy': tensor name {_show(name)}: expected dotted names")
        entry = f"weights/policy/{name}.npy"
        out["policy"][entry] = _tensor_spec(spec, entry)
    if not (isinstance(optim, dict) and set(optim) == {"state", "param_groups"}
            and isinstance(optim["state"], dict) and isinstance(optim["param_groups"], list)
            and 1 <= len(optim["param_groups"]) <= 16):
        raise _Bad("'policy.optimizer': expected state and 1 to 16 param_groups")
    for index, tensors in optim["state"].items():
        if not (index.isascii() and index.isdigit() and len(index) <= 7
                and isinstance(tensors, dict) and set(tensors) <= _OPT_STATE):
            raise _Bad(f"'policy.optimizer': state {_show(index)}: expected a weight's "
                       f"index and tensors among {sorted(_OPT_STATE)}")
        for name, spec in tensors.items():
            entry = f"weights/policy.optimizer/state/{index}/{name}.npy"
            out["policy.optimizer"][entry] = _tensor_spec(spec, entry)
    for group in optim["param_groups"]:
        params = group.get("params") if isinstance(group, dict) else None
        if not (isinstance(params, list) and len(params) <= MAX_ENTRIES
                and all(_is_int(i) and 0 <= i < MAX_ENTRIES for i in params)
                and len(group) <= 32 and all(isinstance(k, str) and k.isidentifier()
                                              for k in group)):
            raise _Bad(f"'policy.optimizer': param_group {_show(group)}: expected params "
                       f"(weight indices) and settings by name")
        try:
            for key, value in group.items():
                if key != "params":
                    _group_value(value)
        except _Bad as exc:
            raise _Bad(f"'policy.optimizer': param_group key {key!r}: {exc}") from None
    indices = [i for group in optim["param_groups"] for i in group["params"]]
    if len(set(indices)) != len(indices):
        twice = sorted({i for i in indices if indices.count(i) > 1})[:3]
        raise _Bad(f"'policy.optimizer': weight indices {twice} are in its param_groups "
                   f"more than once")
    return out


def _read_state_dicts(what: str, algo: str, custom: dict[str, Any],
                      doc: dict[str, Any], entries: dict[str, bytes]) -> dict[str, Any]:
    """The policy's and its optimizer's state dicts from the ``.npy`` entries `doc`
    (``splitgym.json``'s ``state_dicts``) declares: the declared numbers are checked
    against the spaces and ``net_arch`` (and the model's size against
    `MAX_MODEL_BYTES`) before any entry is read, each entry's header against its
    declaration before its data is."""
    import torch

    where = f"{what}: entry {PLAIN_ENTRY!r} key 'state_dicts'"
    try:
        declared = _declared_tensors(doc)
    except _Bad as exc:
        raise AgentFileError(f"{where}: {exc}") from None
    obs_space, act_space = custom["observation_space"], custom["action_space"]
    obs, n = int(np.prod(obs_space.shape)), int(act_space.n)
    arch = (custom.get("policy_kwargs") or {}).get("net_arch", [64, 64])
    want = _expected_numbers(algo, obs, n, arch)
    have = sum(math.prod(shape) for shape, _ in declared["policy"].values())
    if have != want:
        raise AgentFileError(f"{where}: 'policy' holds {have} numbers, the observation of "
                             f"{obs}, {n} actions and net_arch={arch} need {want}")
    # an optimizer keeps at most three numbers a weight (Adam: two moments, RMSprop: up
    # to three buffers) and a step count per weight tensor
    numbers = sum(math.prod(s) for s, _ in declared["policy.optimizer"].values())
    if numbers > 3 * want + 4096:
        raise AgentFileError(f"{where}: 'policy.optimizer' holds {numbers} numbers, more "
                             f"than the {3 * want + 4096} an optimizer keeps for {want} "
                             f"weights")
    total = model_bytes(algo, custom, obs, n, want)
    if total > MAX_MODEL_BYTES:
        raise AgentFileError(f"{what}: entry 'data': its model would take {total} bytes "
                             f"(networks and {'replay' if algo == 'dqn' else 'rollout'} "
                             f"buffer), more than {MAX_MODEL_BYTES}")
    tensors: dict[str, Any] = {}
    for entry, (shape, dtype) in (*declared["policy"].items(),
                                  *declared["policy.optimizer"].items()):
        if entry not in entries:
            raise AgentFileError(f"{what}: entry {entry!r}, declared in {PLAIN_ENTRY}, "
                                 f"is missing")
        arr = read_npy(entries[entry], f"{what}: entry {entry!r}", shape,
                       frozenset({np.dtype(dtype)}))
        tensors[entry] = torch.from_numpy(arr)
    optim = doc["policy.optimizer"]
    return {
        "policy": {name: tensors[f"weights/policy/{name}.npy"]
                   for name in doc["policy"]["tensors"]},
        "policy.optimizer": {
            "state": {int(i): {k: tensors[f"weights/policy.optimizer/state/{i}/{k}.npy"]
                               for k in values} for i, values in optim["state"].items()},
            "param_groups": [{k: list(v) if k == "params" else _group_value(v)
                              for k, v in group.items()}
                             for group in optim["param_groups"]]},
    }


def _check_live(what: str, model: Any, params: dict[str, Any]) -> None:
    """The state dicts read against the model SB3 built from the declared sizes: the
    same tensor names, shapes and dtypes; optimizer groups of the same weights, their
    state shaped as those weights, no setting the optimizer does not have and none its
    constructor refuses."""
    import torch

    where = f"{what}: entry {PLAIN_ENTRY!r} key 'state_dicts'"
    live = model.policy.state_dict()
    got = params["policy"]
    if list(got) != list(live):
        odd = sorted(set(got) ^ set(live))[:3]
        raise AgentFileError(f"{where}: 'policy': tensors {odd} differ from the "
                             f"{type(model.policy).__name__}'s")
    for name, ref in live.items():
        if got[name].shape != ref.shape or got[name].dtype != ref.dtype:
            raise AgentFileError(f"{where}: 'policy': tensor {name!r} is {got[name].dtype} "
                                 f"of {tuple(got[name].shape)}, the policy's "
                                 f"{ref.dtype} of {tuple(ref.shape)}")
    groups, state = params["policy.optimizer"]["param_groups"], \
        params["policy.optimizer"]["state"]
    live_groups = model.policy.optimizer.param_groups
    if len(groups) != len(live_groups) or any(
            len(g["params"]) != len(lg["params"]) or not set(g) <= set(lg)
            for g, lg in zip(groups, live_groups, strict=False)):
        raise AgentFileError(f"{where}: 'policy.optimizer': its param_groups do not fit "
                             f"the {type(model.policy.optimizer).__name__} of this policy")
    # the settings (lr, betas, eps, weight_decay, ...) as the optimizer's own constructor
    # checks them: a file the optimizer would refuse is refused here, not at resume
    optimizer = type(model.policy.optimizer)
    for g in groups:
        settings = {k: v for k, v in g.items() if k != "params"}
        try:
            optimizer([torch.zeros(1, requires_grad=True)], **settings)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise AgentFileError(f"{where}: 'policy.optimizer': param_group settings "
                                 f"{_show(settings)}: {optimizer.__name__} refuses them: "
                                 f"{_short(exc)}") from None
    weights = {i: p for g, lg in zip(groups, live_groups, strict=True)
               for i, p in zip(g["params"], lg["params"], strict=True)}
    for index, values in state.items():
        if index not in weights:
            raise AgentFileError(f"{where}: 'policy.optimizer': state {index} is of no "
                                 f"weight in its param_groups")
        ref = weights[index]
        for name, value in values.items():
            # a step count is one number (shape () or (1,), as torch versions kept it)
            if name == "step" and value.numel() == 1 and value.dim() <= 1:
                continue
            if tuple(value.shape) != tuple(ref.shape) or value.dtype != ref.dtype:
                raise AgentFileError(f"{where}: 'policy.optimizer': state {index} "
                                     f"{name!r} is {value.dtype} of "
                                     f"{tuple(value.shape)}, expected "
                                     f"{'one number' if name == 'step' else ref.dtype}"
                                     f"{'' if name == 'step' else f' of {tuple(ref.shape)}'}")


def model_bytes(algo: str, values: Any, obs: int, n: int, weights: int) -> int:
    """The memory a model of `algo` takes [bytes], estimated from its settings
    (`values`: a mapping or the model: n_envs, n_steps or buffer_size, ...), its
    observation length `obs`, `n` actions and `weights` numbers."""
    def get(key: str, default: Any) -> Any:
        if isinstance(values, dict):
            return values.get(key, default)
        return getattr(values, key, default)

    item = np.dtype(get("observation_space", None).dtype).itemsize
    if algo == "dqn":
        rows = int(get("buffer_size", 1))
        copies = 1 if get("optimize_memory_usage", False) else 2
        buffer = rows * (copies * obs * item + 8 + 12)
    else:
        buffer = int(get("n_steps", 1)) * int(get("n_envs", 1)) * (obs * item + 4 * (n + 8))
    return buffer + 5 * 4 * weights  # weights, gradients, two optimizer moments, a copy


def check_model_fits(model: Any, algo: str) -> None:
    """Refuse (`AgentFileError`) a model whose files splitgym would refuse to load
    (`MAX_MODEL_BYTES`): ``splitgym train`` checks this before training, so no run
    writes checkpoints it cannot resume."""
    obs = int(np.prod(model.observation_space.shape))
    n = int(model.action_space.n)
    weights = sum(int(p.numel()) for p in model.policy.state_dict().values())
    total = model_bytes(algo, model, obs, n, weights)
    if total > MAX_MODEL_BYTES:
        raise AgentFileError(f"the model takes {total} bytes (networks and "
                             f"{'replay' if algo == 'dqn' else 'rollout'} buffer: "
                             f"{'buffer_size' if algo == 'dqn' else 'n_steps x n_envs'} "
                             f"rows of an observation of {obs}), more than the "
                             f"{MAX_MODEL_BYTES} splitgym loads from an agent file")


# -- loading -------------------------------------------------------------------------------

def load_sb3(path: str | Path, algo: str, cls: Any, env: Any = None, trust: bool = False,
             device: str = "cpu") -> Any:
    """An SB3 model from `path` with class `cls` (`algo` names it in messages): from
    plain data only (module docstring) unless `trust`."""
    what = _agent(path)
    if trust:
        try:
            return cls.load(str(path), env=env, device=device)
        except Exception as exc:  # noqa: BLE001 - whatever a trusted file raises
            raise AgentFileError(f"{what}: does not load as {algo} (trusted, fully "
                                 f"unpickled): {type(exc).__name__}: {_short(exc)}") from None
    entries = read_zip(path, what)
    if "data" not in entries:
        raise AgentFileError(f"{what}: not an SB3 model zip (no data entry)")
    data = _json(entries["data"], f"{what}: entry 'data'")
    if not isinstance(data, dict):
        raise AgentFileError(f"{what}: entry 'data': not a JSON object")
    if PLAIN_ENTRY not in entries:
        pickled = sorted(k for k, v in data.items() if _serialized(v))
        raise AgentFileError(f"{what}: entry {PLAIN_ENTRY!r} missing: not written by "
                             f"splitgym (its entries {pickled} are pickled, and splitgym "
                             f"does not unpickle); {_TRUST_HINT}, or add the plain data "
                             f"once: python -m splitgym.agents.convert --trust-agent IN OUT")
    plain = _json(entries[PLAIN_ENTRY], f"{what}: entry {PLAIN_ENTRY!r}")
    if not (isinstance(plain, dict) and plain.get("format") == FORMAT):
        raise AgentFileError(f"{what}: entry {PLAIN_ENTRY!r}: not a {FORMAT} object")
    if plain.get("algo") != algo:
        raise AgentFileError(f"{what}: entry {PLAIN_ENTRY!r}: algo={_show(plain.get('algo'))}"
                             f", but it is loaded as {algo}")
    if "state_dicts" not in plain:
        raise AgentFileError(f"{what}: entry {PLAIN_ENTRY!r} declares no .npy weights "
                             f"(written by an older splitgym, whose weights are in the "
                             f"pickled .pth entries only, which splitgym does not read); "
                             f"{_CONVERT_HINT}")
    declared = {f"weights/policy/{k}.npy" for k in _dig(plain, "policy", "tensors")} | {
        f"weights/policy.optimizer/state/{i}/{k}.npy"
        for i, v in _dig(plain, "policy.optimizer", "state").items()
        if isinstance(v, dict) for k in v}
    for name in entries:
        if name not in _ENTRIES and name not in declared:
            raise AgentFileError(f"{what}: entry {name!r} is not one splitgym reads; "
                                 f"{_TRUST_HINT}")
    custom = _rebuild(path, algo, cls, data, plain, entries)
    params = _read_state_dicts(what, algo, custom, plain["state_dicts"], entries)
    try:
        return _build(what, cls, custom, params, env, device)
    except AgentFileError:
        raise
    except (RuntimeError, KeyError, AssertionError, TypeError, ValueError, AttributeError,
            IndexError) as exc:
        raise AgentFileError(f"{what}: does not load as {algo} ({type(exc).__name__}: "
                             f"{_short(exc)})") from None


def _dig(plain: dict[str, Any], name: str, key: str) -> dict[str, Any]:
    """``plain["state_dicts"][name][key]`` where each is a mapping, else empty (the
    declared entry names; `_declared_tensors` checks the rest)."""
    doc = plain.get("state_dicts")
    doc = doc.get(name) if isinstance(doc, dict) else None
    doc = doc.get(key) if isinstance(doc, dict) else None
    return doc if isinstance(doc, dict) else {}


def _build(what: str, cls: Any, custom: dict[str, Any], params: dict[str, Any], env: Any,
           device: str) -> Any:
    """The model SB3's ``cls.load`` would build from these values and state dicts (its
    steps for an MlpPolicy without gSDE or extra torch variables, SB3 2.x), without its
    file reading: nothing here decodes bytes."""
    from stable_baselines3.common.utils import check_for_correct_spaces

    data = dict(custom)
    if env is not None:
        env = cls._wrap_env(env, data["verbose"])
        check_for_correct_spaces(env, data["observation_space"], data["action_space"])
        data["_last_obs"] = None  # SB3's force_reset: the env resets before training
        data["n_envs"] = env.num_envs
    model = cls(policy=data["policy_class"], env=env, device=device,
                _init_setup_model=False)
    model.__dict__.update(data)
    model._setup_model()
    if model._get_torch_save_params() != (list(_STATE_DICTS), []):
        raise AgentFileError(f"{what}: a {cls.__name__} keeps state dicts "
                             f"{model._get_torch_save_params()}, splitgym reads "
                             f"{list(_STATE_DICTS)}")
    _check_live(what, model, params)
    model.set_parameters(params, exact_match=True, device=device)
    return model


# -- writing -------------------------------------------------------------------------------

def _enc_rng(gen: Any) -> Any:
    if gen is None:
        return None
    state = gen.bit_generator.state
    if state.get("bit_generator") != "PCG64":
        raise _NoPlain(f"a {state.get('bit_generator')} generator")
    return {"state": int(state["state"]["state"]), "inc": int(state["state"]["inc"]),
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def _enc_schedule(obj: Any, depth: int = 0) -> Any:
    from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule

    if obj is None and depth == 0:
        return None
    if type(obj) is FloatSchedule and depth == 0:
        return {"float": _enc_schedule(obj.value_schedule, 1)}
    if type(obj) is ConstantSchedule and _plain_number(obj.val):
        return {"constant": obj.val}
    if type(obj) is LinearSchedule and all(_plain_number(x) for x in (
            obj.start, obj.end, obj.end_fraction)):
        return {"linear": [obj.start, obj.end, obj.end_fraction]}
    raise _NoPlain(repr(obj))


def _plain_number(x: Any) -> bool:
    return type(x) in (int, float) and math.isfinite(x)


def _encode(key: str, obj: Any, algo: str, arrays: dict[str, bytes]) -> Any:
    """The plain form of a live value of serialized entry `key` (`_NoPlain` if none);
    arrays go to `arrays` as ``.npy`` bytes."""
    import torch
    from gymnasium import spaces

    if key == "policy_class":
        from .policy import algo_class

        names = [k for k, c in algo_class(algo).policy_aliases.items() if c is obj]
        if "MlpPolicy" not in names:
            raise _NoPlain(repr(obj))
        return "MlpPolicy"
    if key == "observation_space":
        if type(obj) is not spaces.Box or obj.dtype not in (np.float32, np.float64):
            raise _NoPlain(repr(obj))
        return {"kind": "box", "shape": list(obj.shape), "dtype": str(obj.dtype),
                "low": obj.low.ravel().tolist(), "high": obj.high.ravel().tolist(),
                "rng": _enc_rng(obj._np_random)}
    if key == "action_space":
        if type(obj) is not spaces.Discrete:
            raise _NoPlain(repr(obj))
        return {"kind": "discrete", "n": int(obj.n), "start": int(obj.start),
                "rng": _enc_rng(obj._np_random)}
    if key in ("lr_schedule", "clip_range", "clip_range_vf", "exploration_schedule"):
        return _enc_schedule(obj)
    if key == "train_freq":
        return [int(obj.frequency), obj.unit.value]
    if key in ("rollout_buffer_class", "replay_buffer_class"):
        if obj is not _buffer_classes()[algo]:
            raise _NoPlain(repr(obj))
        return obj.__name__
    if key in ("ep_info_buffer", "ep_success_buffer"):
        items = [{k: _num(v) for k, v in x.items()} if isinstance(x, dict) else _num(x)
                 for x in obj]
        return {"maxlen": obj.maxlen, "items": items}
    if key in _ARRAY_KEYS:
        if obj is None:
            return None
        arr = np.asarray(obj)
        if arr.dtype not in _ARRAY_DTYPES:
            raise _NoPlain(f"an array of {arr.dtype}")
        out = io.BytesIO()
        np.save(out, arr, allow_pickle=False)
        arrays[f"{key}.npy"] = out.getvalue()
        return {"npy": f"{key}.npy"}
    if key == "policy_kwargs":
        out_kw: dict[str, Any] = {}
        for k, v in obj.items():
            if k in ("optimizer_class", "activation_fn"):
                table = _OPTIMIZERS if k == "optimizer_class" else _ACTIVATIONS
                base = torch.optim if k == "optimizer_class" else torch.nn
                if getattr(v, "__name__", None) not in table or \
                        getattr(base, v.__name__) is not v:
                    raise _NoPlain(repr(v))
                out_kw[k] = v.__name__
            else:
                json.dumps(v, allow_nan=False)  # plain already, or _NoPlain below
                out_kw[k] = v
        return out_kw
    raise _NoPlain(f"entry {key!r}")


def _num(x: Any) -> Any:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)) and math.isfinite(x):
        return float(x)
    raise _NoPlain(repr(x))


def _enc_tensor(tensor: Any, entry: str, arrays: dict[str, bytes]) -> dict[str, Any]:
    """`tensor` as the ``.npy`` entry `entry` (added to `arrays`, C order, little-endian
    float32/float64/int64) and its declaration."""
    import torch

    if not (isinstance(tensor, torch.Tensor) and tensor.layout == torch.strided):
        raise _NoPlain(f"{entry}: {type(tensor).__name__}")
    arr = tensor.detach().cpu().numpy()  # C order, little-endian (0-d stays 0-d)
    arr = np.require(arr.astype(arr.dtype.newbyteorder("<"), copy=False), requirements="C")
    if arr.dtype.str not in _WEIGHT_DTYPES:
        raise _NoPlain(f"{entry}: a tensor of {tensor.dtype}")
    out = io.BytesIO()
    np.save(out, arr, allow_pickle=False)
    arrays[entry] = out.getvalue()
    return {"npy": entry, "shape": list(arr.shape), "dtype": arr.dtype.str}


def _enc_group_value(v: Any) -> Any:
    if v is None or isinstance(v, bool) or _plain_number(v):
        return v
    if isinstance(v, tuple) and all(_plain_number(x) for x in v):
        return {"tuple": list(v)}
    raise _NoPlain(repr(v))


def _enc_state_dicts(params: dict[str, Any], arrays: dict[str, bytes]) -> dict[str, Any]:
    """The plain form of SB3's ``get_parameters()`` (the policy's state dict and its
    optimizer's): tensors to `arrays` as ``.npy`` entries, the optimizer's settings as
    numbers; `_read_state_dicts` reads it back."""
    if list(params) != list(_STATE_DICTS):
        raise _NoPlain(f"state dicts {list(params)}, expected {list(_STATE_DICTS)}")
    tensors = {}
    for name, tensor in params["policy"].items():
        if not _TENSOR_NAME.match(name):
            raise _NoPlain(f"tensor name {name!r}")
        tensors[name] = _enc_tensor(tensor, f"weights/policy/{name}.npy", arrays)
    optim = params["policy.optimizer"]
    state = {}
    for index, values in optim["state"].items():
        if not (set(values) <= _OPT_STATE and _is_int(index)):
            raise _NoPlain(f"optimizer state {index!r}: {sorted(values)}")
        state[str(index)] = {k: _enc_tensor(
            v, f"weights/policy.optimizer/state/{index}/{k}.npy", arrays)
            for k, v in values.items()}
    groups = [{k: [int(i) for i in v] if k == "params" else _enc_group_value(v)
               for k, v in group.items()} for group in optim["param_groups"]]
    return {"policy": {"tensors": tensors},
            "policy.optimizer": {"state": state, "param_groups": groups}}


def with_plain_data(blob: bytes, objects: dict[str, Any], algo: str,
                    params: dict[str, Any]) -> bytes:
    """The SB3 zip `blob` with ``splitgym.json`` and ``.npy`` entries added: the plain
    form of `objects` (the values of its serialized ``data`` entries) and of `params`
    (SB3's ``get_parameters()``: the state dicts its ``.pth`` entries hold). Every entry
    of `blob` is kept byte for byte (SB3 still reads the zip as its own). Raises
    `AgentFileError` for a value with no plain form."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zin:
        data = json.loads(zin.read("data"))
        arrays: dict[str, bytes] = {}
        values = {}
        for key, value in data.items():
            if not _serialized(value):
                continue
            try:
                values[key] = _encode(key, objects[key], algo, arrays)
            except (_NoPlain, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise AgentFileError(f"data key {key!r} has no plain-data form splitgym "
                                     f"reads ({_short(exc)})") from None
        try:
            state_dicts = _enc_state_dicts(params, arrays)
        except (_NoPlain, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AgentFileError(f"the model's state dicts have no plain-data form "
                                 f"splitgym reads ({_short(exc)})") from None
        doc = {"format": FORMAT, "algo": algo, "entries": values,
               "state_dicts": state_dicts}
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zout:
            for item in zin.infolist():
                if item.filename == PLAIN_ENTRY or item.filename.endswith(".npy"):
                    continue
                zout.writestr(item, zin.read(item), compress_type=item.compress_type)
            zout.writestr(PLAIN_ENTRY, json.dumps(doc, indent=1, allow_nan=True),
                          compress_type=zipfile.ZIP_DEFLATED)
            for name, arr in arrays.items():
                zout.writestr(name, arr, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def save_model(model: Any, path: str | Path, algo: str | None = None) -> None:
    """``model.save(path)``, with the plain data `load_sb3` reads added, written
    atomically. `algo`: the model's algorithm name (found from its class if None)."""
    from .policy import ALGO_NAMES, algo_class

    if algo is None:
        algo = next((a for a in ALGO_NAMES if type(model) is algo_class(a)), None)
    if algo not in ALGO_NAMES:
        raise ValueError(f"save_model: a {type(model).__name__} with algo={algo!r}: "
                         f"expected one of {list(ALGO_NAMES)}")
    buf = io.BytesIO()
    model.save(buf)
    if model._get_torch_save_params()[1]:
        raise AgentFileError(f"save_model: a {type(model).__name__} with torch variables "
                             f"{model._get_torch_save_params()[1]} splitgym does not read")
    write_atomic(path, with_plain_data(buf.getvalue(), model.__dict__, algo,
                                       model.get_parameters()))


# -- replay buffers --------------------------------------------------------------------------

def save_replay_buffer(model: Any, path: str | Path) -> None:
    """The model's replay buffer as a ``.npz`` of plain arrays (its contents, ``pos``
    and ``full``), written atomically; `load_replay_buffer` reads it back."""
    rb = model.replay_buffer
    arrays = {k: getattr(rb, k) for k in _BUFFER_ARRAYS if getattr(rb, k, None) is not None}
    arrays["pos"] = np.array(rb.pos, dtype=np.int64)
    arrays["full"] = np.array(rb.full, dtype=bool)
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    write_atomic(path, buf.getvalue())


def load_replay_buffer(model: Any, path: str | Path, trust: bool = False) -> None:
    """Fill `model`'s replay buffer from a ``.npz`` written by `save_replay_buffer`:
    each array's shape and dtype must be those of the buffer the model allocated
    (read with ``allow_pickle=False``). A ``.pkl`` (SB3's own, pickled) loads only if
    `trust`. A missing file raises ``FileNotFoundError``; an unreadable one an
    `AgentFileError`."""
    path = Path(path)
    what = f"replay buffer {str(path)!r}"
    if trust and path.suffix == ".pkl":
        model.load_replay_buffer(str(path))
        return
    if path.suffix != ".npz":
        raise AgentFileError(f"{what}: a pickled buffer (splitgym reads its own .npz "
                             f"buffers only); {_TRUST_HINT}")
    if not path.is_file():
        raise FileNotFoundError(f"{what}: no such file")
    rb = model.replay_buffer
    want = {k: getattr(rb, k) for k in _BUFFER_ARRAYS if getattr(rb, k, None) is not None}
    limit = sum(a.nbytes for a in want.values()) + 2**20
    entries = read_zip(path, what, names=_BUFFER_ENTRIES, max_file=limit + 2**20,
                       max_entry=limit)
    got = {}
    for name in sorted(_BUFFER_ENTRIES):
        key = name[:-4]
        if key not in want and key not in ("pos", "full"):
            if name in entries:
                raise AgentFileError(f"{what}: entry {name!r}: this buffer keeps no {key}")
            continue
        if name not in entries:
            raise AgentFileError(f"{what}: has no entry {name!r}")
        arr = read_npy(entries[name], f"{what}: entry {name!r}")
        ref = want.get(key)
        shape, dtype = (ref.shape, ref.dtype) if ref is not None else (
            (), np.dtype(np.int64 if key == "pos" else bool))
        if arr.shape != shape or arr.dtype != dtype:
            raise AgentFileError(f"{what}: entry {name!r}: {arr.dtype} array of shape "
                                 f"{arr.shape}, the model's buffer is {dtype} of {shape}")
        got[key] = arr
    pos = int(got.pop("pos"))
    if not 0 <= pos < rb.buffer_size:
        raise AgentFileError(f"{what}: entry 'pos.npy': {pos}, expected 0 to "
                             f"{rb.buffer_size - 1}")
    for key, arr in got.items():
        if key != "full":
            getattr(rb, key)[...] = arr
    rb.pos, rb.full = pos, bool(got["full"])


__all__ = ["AgentChecksumError", "AgentFileError", "AgentMismatchError", "AgentModelWarning",
           "FORMAT", "MAX_ENTRY_BYTES", "MAX_FILE_BYTES", "MAX_JSON_BYTES", "MAX_MODEL_BYTES",
           "PLAIN_ENTRY", "load_replay_buffer", "load_sb3", "read_data",
           "read_zip", "save_model", "save_replay_buffer", "sha256_file", "with_plain_data"]
