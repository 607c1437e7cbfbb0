"""Profile loading: every validation error names its field; shipped profiles are exact."""

from __future__ import annotations

import copy
import json
import math
import pickle

import pytest

from splitgym.profiles import (
    ProfileError,
    chain_cut_table,
    cut_for_edge_set,
    load_profile,
    make_cut_table,
    shipped_profiles,
)

BASE = {
    "format": "splitgym-profile/1", "model": "t", "input_bytes": 1000,
    "devices": {"pi": {"description": "edge"}, "srv": {"description": "cloud"}},
    "default_edge": "pi", "default_cloud": "srv",
    "layers": [
        {"name": "conv1", "inputs": ["input"], "output_bytes": 500,
         "latency_ms": {"pi": 2000.0, "srv": 500.0}},
        {"name": "fc", "inputs": ["conv1"], "output_bytes": 40,
         "latency_ms": {"pi": 1000.0, "srv": 100.0}},
    ],
}


def _doc(mutate):
    doc = copy.deepcopy(BASE)
    mutate(doc)
    return doc


def _set(path, value):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


ERRORS = [
    ("unknown format", _set(["format"], "splitgym-profile/9"),
     r"format: unknown profile format 'splitgym-profile/9'"),
    ("missing top field", _delete(["input_bytes"]), r"input_bytes: missing field"),
    ("missing layer field", _delete(["layers", 1, "output_bytes"]),
     r"layers\[1\] \('fc'\)\.output_bytes: missing field"),
    ("negative latency", _set(["layers", 0, "latency_ms", "pi"], -1.0),
     r"layers\[0\] \('conv1'\)\.latency_ms\['pi'\]: must be a finite number >= 0, got -1\.0"),
    ("non-finite latency", _set(["layers", 1, "latency_ms", "srv"], math.inf),
     r"layers\[1\] \('fc'\)\.latency_ms\['srv'\]: must be a finite number >= 0, got inf"),
    ("NaN latency", _set(["layers", 1, "latency_ms", "srv"], math.nan),
     r"latency_ms\['srv'\]: must be a finite number >= 0, got nan"),
    ("negative bytes", _set(["layers", 0, "output_bytes"], -5),
     r"layers\[0\] \('conv1'\)\.output_bytes: must be a whole number of bytes >= 0, got -5"),
    ("non-finite input bytes", _set(["input_bytes"], math.inf),
     r"input_bytes: must be a whole number of bytes >= 0, got inf"),
    ("device missing from a layer", _delete(["layers", 1, "latency_ms", "srv"]),
     r"layers\[1\] \('fc'\)\.latency_ms: device 'srv' is missing"),
    ("undeclared device", _set(["layers", 0, "latency_ms", "gpu"], 1.0),
     r"layers\[0\] \('conv1'\)\.latency_ms: device 'gpu' is not declared"),
    ("unknown reference", _set(["layers", 1, "inputs"], ["conv9"]),
     r"layers\[1\] \('fc'\)\.inputs: unknown layer 'conv9'"),
    ("forward reference",
     lambda d: (_set(["layers", 0, "inputs"], ["fc"])(d), _set(["layers", 1, "inputs"],
                                                                ["input"])(d)),
     r"layers\[0\] \('conv1'\)\.inputs: forward reference to 'fc' \(layers\[1\]\)"),
    ("cycle", lambda d: (_set(["layers", 0, "inputs"], ["fc"])(d)),
     r"cycle 'conv1' <- 'fc' <- 'conv1'|cycle 'fc' <- 'conv1' <- 'fc'"),
    ("self cycle", _set(["layers", 1, "inputs"], ["fc"]), r"\('fc'\)\.inputs: cycle 'fc' <- 'fc'"),
    ("duplicate names", _set(["layers", 1, "name"], "conv1"),
     r"layers\[1\]\.name: duplicate layer name 'conv1' \(also layers\[0\]\)"),
    ("bad default device", _set(["default_edge"], "tpu"),
     r"default_edge: 'tpu' is not one of devices \['pi', 'srv'\]"),
    ("empty layers", _set(["layers"], []), r"layers: must be a non-empty list"),
    ("unknown top field", _set(["colour"], "red"), r"colour: unknown field"),
    ("bool bytes", _set(["layers", 0, "output_bytes"], True),
     r"output_bytes: must be a whole number of bytes >= 0, got True"),
]


@pytest.mark.parametrize("mutate,pattern", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_load_profile__rejects_with_a_message_naming_the_field(mutate, pattern):
    with pytest.raises(ProfileError, match=pattern):
        load_profile(_doc(mutate))


def test_load_profile__file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ProfileError, match=r"bad\.json: not valid JSON"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "missing.json")
    with pytest.raises(ProfileError, match=r"no shipped profile 'nosuchnet'"):
        load_profile("nosuchnet")
    bad.write_text(json.dumps(_doc(_set(["layers", 0, "output_bytes"], -1))))
    with pytest.raises(ProfileError, match=r"bad\.json: layers\[0\]"):
        load_profile(bad)


def test_profile__round_trips_through_json_and_pickle(tmp_path):
    prof = load_profile(BASE)
    path = tmp_path / "p.json"
    prof.save(path)
    again = load_profile(path)
    assert again == prof
    assert pickle.loads(pickle.dumps(prof)) == prof
    assert prof.is_chain
    assert prof.whole_model_s("pi") == 3.0


def test_profile__dag_is_not_a_chain():
    doc = copy.deepcopy(BASE)
    doc["layers"][1]["inputs"] = ["input", "conv1"]
    prof = load_profile(doc)
    assert not prof.is_chain
    # fc reads the input and conv1. {conv1} alone would send the input (fc needs it)
    # plus conv1's 500 bytes: 1500 > cloud-only's 1000 with 2 s more edge time, so it is
    # never optimal (cloud-only 0.6 s + Tt(1000) vs 2.1 s + Tt(1500)) and sends more than
    # a shallower cut: only cloud-only and edge-only are candidates.
    table = make_cut_table(prof)
    assert table.kind == "dag"
    assert [c.edge_layers for c in table.cuts] == [(), ("conv1", "fc")]
    assert table.transfer_bytes.tolist() == [1000, 0]


def test_cut_for_edge_set__sends_each_tensor_once():
    # input -> a -> {b, c} -> d : with {a} on the edge, a's 100 bytes are read by both
    # b and c on the cloud but sent once; with {a, b} on the edge, a (read by c) and b
    # (read by d) are both sent: 100 + 30.
    doc = {
        "format": "splitgym-profile/1", "model": "diamond", "input_bytes": 1000,
        "devices": {"e": {}, "c": {}}, "default_edge": "e", "default_cloud": "c",
        "layers": [
            {"name": "a", "inputs": ["input"], "output_bytes": 100,
             "latency_ms": {"e": 10, "c": 1}},
            {"name": "b", "inputs": ["a"], "output_bytes": 30, "latency_ms": {"e": 20, "c": 2}},
            {"name": "c", "inputs": ["a"], "output_bytes": 40, "latency_ms": {"e": 30, "c": 3}},
            {"name": "d", "inputs": ["b", "c"], "output_bytes": 4,
             "latency_ms": {"e": 40, "c": 4}},
        ]}
    prof = load_profile(doc)
    one = cut_for_edge_set(prof, {"a"}, "e", "c")
    assert (one.transfer_bytes, one.edge_s, one.cloud_s) == (100, 0.010, 0.009)
    two = cut_for_edge_set(prof, {"a", "b"}, "e", "c")
    assert two.transfer_bytes == 130
    none = cut_for_edge_set(prof, set(), "e", "c")
    assert none.transfer_bytes == 1000 and none.offloads
    everything = cut_for_edge_set(prof, {"a", "b", "c", "d"}, "e", "c")
    assert everything.transfer_bytes == 0 and not everything.offloads
    with pytest.raises(ProfileError, match="closed under predecessors"):
        cut_for_edge_set(prof, {"b"}, "e", "c")


def test_chain_cut_table__toy_costs_are_the_documented_ones():
    table = chain_cut_table(load_profile("toy"))
    # toy.json: edge 1, 2, 1 s; cloud 0.25, 0.5, 0.25 s; input 2000 B, outputs 1000, 500, 100 B
    assert table.edge_s.tolist() == [0.0, 1.0, 3.0, 4.0]
    assert table.cloud_s.tolist() == [1.0, 0.75, 0.25, 0.0]
    assert table.transfer_bytes.tolist() == [2000, 1000, 500, 0]
    # 0.008 Mbit/s = 1000 bytes/s
    assert table.transfer_s(0.008).tolist() == [2.0, 1.0, 0.5, 0.0]
    assert table.feasible(0.0).tolist() == [False, False, False, True]
    with pytest.raises(ProfileError, match="edge_device='gpu'"):
        chain_cut_table(load_profile("toy"), edge_device="gpu")


def test_shipped_profiles__all_load():
    names = shipped_profiles()
    assert set(names) == {"toy", "alexnet", "tiny_yolo", "darknet19", "alexnet_parallel",
                          "resnet18", "googlenet"}
    for name in names:
        prof = load_profile(name)
        assert prof.model == name
