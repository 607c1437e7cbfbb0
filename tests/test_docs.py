"""Docs that must say what the code does: the preset table of docs/model.md (generated
from the code by ``python tests/test_docs.py``), and the README's setup and training
notes."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
MODEL_DOC = ROOT / "docs" / "model.md"
BEGIN = "<!-- presets: generated from splitgym.envs.scenarios by `python tests/test_docs.py` -->"
END = "<!-- end of the generated presets -->"
#: Arguments whose defaults the presets change; their defaults are listed under the table.
DEFAULTS_SHOWN = ("bandwidth_mbps", "n_edges", "frames_per_edge", "fps", "arrivals",
                  "queue_capacity", "cloud_workers", "uplink", "objective", "deadline_s",
                  "drop_late", "edge_speed", "bandwidth_per_edge", "bandwidth_estimator")


def _value(key: str, value: Any) -> str:
    from splitgym.envs.core.config import BANDWIDTH_PRESETS_MBPS

    if isinstance(value, dict):
        text = json.dumps(value)
    elif isinstance(value, str):
        text = json.dumps(value)
    elif isinstance(value, bool):
        text = str(value)
    else:
        text = repr(value)
    shown = f"`{key}={text}`"
    if key == "bandwidth_mbps" and isinstance(value, str) and value in BANDWIDTH_PRESETS_MBPS:
        shown += f" ({BANDWIDTH_PRESETS_MBPS[value]} Mbit/s)"
    return shown


def render_presets() -> str:
    """The preset section of docs/model.md, from `SCENARIOS` and `PURPOSES`."""
    from splitgym.envs import EdgeCloudEnv
    from splitgym.envs.scenarios import PURPOSES, SCENARIOS, env_id

    params = inspect.signature(EdgeCloudEnv.__init__).parameters
    lines = [
        BEGIN, "", "## Scenario presets", "",
        "Each preset is a set of `EdgeCloudEnv` arguments, registered as its own id "
        "(`gym.make(id, model=...)`) and also given by `EdgeCloudEnv(scenario=name)` or "
        "`splitgym evaluate|train --scenario name`. Arguments given explicitly win over "
        "the preset's; every argument a preset does not set keeps its default (below).",
        "", "| preset | id | arguments | purpose |", "|---|---|---|---|"]
    for name, args in SCENARIOS.items():
        shown = "<br>".join(_value(k, v) for k, v in args.items())
        lines.append(f"| `{name}` | `{env_id(name)}` | {shown} | {PURPOSES[name]} |")
    defaults = ", ".join(_value(k, params[k].default) for k in DEFAULTS_SHOWN)
    lines += ["", f"Defaults of the arguments above (the paper's setting): {defaults}; "
              "`model` is any profile (default `\"alexnet\"`).", "", END]
    return "\n".join(lines) + "\n"


def _section(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END) + 1
    return text[start:end]


def test_presets_doc__matches_the_code():
    from splitgym.envs.scenarios import PURPOSES, SCENARIOS

    assert set(PURPOSES) == set(SCENARIOS), "every preset needs a purpose"
    text = MODEL_DOC.read_text()
    assert BEGIN in text and END in text, "regenerate: python tests/test_docs.py"
    assert _section(text) == render_presets(), "regenerate: python tests/test_docs.py"


def test_presets_doc__each_registered_id_is_in_the_table():
    import gymnasium as gym

    import splitgym.envs  # noqa: F401 - registers the ids

    ids = [i for i in gym.registry
           if i.startswith("splitgym/EdgeCloud-") and i != "splitgym/EdgeCloud-v0"]
    section = _section(MODEL_DOC.read_text())
    assert ids and all(f"`{i}`" in section for i in ids)
    readme = (ROOT / "README.md").read_text()
    assert "Paper4G" in readme and "docs/model.md" in readme


def test_readme__says_how_to_get_the_cpu_build_of_torch_elsewhere():
    readme = (ROOT / "README.md").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu" in readme
    pinned = re.search(r"pip install torch==([\d.]+)", readme).group(1)
    assert f"torch=={pinned} --index-url https://download.pytorch.org/whl/cpu" in readme


def test_readme__training_says_the_default_imitates_sq_lookahead():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Training"):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    assert "sq_lookahead" in section and "imitat" in section and "bc_epochs=0" in section


def test_learned_tables__say_whether_the_agents_imitated_a_heuristic_before_rl():
    from splitgym.experiments import paper
    from splitgym.experiments.evaluate import shipped_training, training_phrase
    from splitgym.experiments.reproduce import TABLE1_POLICIES, table1_markdown

    # both formats of the records: newer ones have an "imitation" text, older ones only
    # the card's sentence
    assert training_phrase("maskable_ppo", "imitation first: behaviour cloning of "
                           "`sq_lookahead` on 40 episodes", "") == \
        "maskable_ppo, imitated sq_lookahead before RL (behaviour cloning)"
    assert training_phrase("ppo", "no imitation (pure RL from a random policy)", "") == \
        "ppo, RL only (no imitation)"
    assert training_phrase("maskable_ppo", None, "behaviour-cloning warm start from "
                           "`greedy_eft` (imitation accuracy 0.9)") == \
        "maskable_ppo, imitated greedy_eft before RL (behaviour cloning)"
    # Table 1 of `splitgym reproduce` says it for the agents it shows
    rows = [{"model": "alexnet", "network": net, "policy": p, "paper_s": "",
             "beyond_paper": False, "makespan_s": 1.0, "lower_bound_s": 1.0,
             "best_known_s": 1.0}
            for net in paper.NETWORKS for p in TABLE1_POLICIES]
    note = table1_markdown(rows, ["alexnet"]).splitlines()[-1]
    phrase = shipped_training("alexnet-3g")
    assert "before RL" in phrase or "RL only" in phrase
    assert phrase in note


if __name__ == "__main__":
    doc = MODEL_DOC.read_text()
    new = render_presets()
    doc = doc.replace(_section(doc), new) if BEGIN in doc else doc.rstrip("\n") + "\n\n" + new
    MODEL_DOC.write_text(doc)
    print(f"wrote the presets of {MODEL_DOC}")
