"""Transfer encodings (`splitgym.profiles.codecs`): the encoded cut table on the toy
profile by hand, float32 leaving everything as it was, fleets and DAGs, the errors."""

from __future__ import annotations

import pytest

from splitgym.envs.core.config import ConfigError
from splitgym.envs.edge_cloud import EdgeCloudEnv
from splitgym.profiles.codecs import EncodingError, encode_cut_table, encoded_bytes
from splitgym.profiles.cuts import cut_for_edge_set, make_cut_table
from splitgym.profiles.schema import load_profile

# The toy chain sends 2000 B (the input, cut 0), 1000 B (l1, cut 1), 500 B (l2, cut 2);
# edge times 0, 1, 3, 4 s; cloud times 1, 0.75, 0.25, 0 s. Its codec figures: the edge
# encodes float16 in 0.05 s + 100 s/MB, int8 in 0.1 s + 200 s/MB; the cloud decodes
# float16 in 0.025 s + 50 s/MB, int8 in 0.05 s + 100 s/MB (MB of float32 bytes).
# float16: cut 1 sends 1000 / 2 = 500 B, edge 1 + 0.05 + 100 x 0.001 = 1.15 s, cloud
#          0.75 + 0.025 + 50 x 0.001 = 0.825 s; cut 2 sends 250 B, edge
#          3 + 0.05 + 100 x 0.0005 = 3.1 s, cloud 0.25 + 0.025 + 0.025 = 0.3 s.
# int8:    cut 1 sends 1000 / 4 + 8 = 258 B, edge 1 + 0.1 + 0.2 = 1.3 s, cloud
#          0.75 + 0.05 + 0.1 = 0.9 s; cut 2 sends 125 + 8 = 133 B, edge 3 + 0.1 + 0.1 = 3.2,
#          cloud 0.25 + 0.05 + 0.05 = 0.35 s.
# Cloud-only sends the input as the profile states it and edge-only sends nothing: both
# keep their costs.
GOLDEN = {
    "float16": [(0.0, 2000, 1.0), (1.15, 500, 0.825), (3.1, 250, 0.3), (4.0, 0, 0.0)],
    "int8": [(0.0, 2000, 1.0), (1.3, 258, 0.9), (3.2, 133, 0.35), (4.0, 0, 0.0)],
}


@pytest.mark.parametrize("encoding", ["float16", "int8"])
def test_encoded_table__toy_golden(encoding):
    env = EdgeCloudEnv(model="toy", transfer_encoding=encoding)
    rows = [(c["edge_s"], c["transfer_bytes"], c["cloud_s"]) for c in env.cut_table.describe()]
    for (te, nb, tc), (ge, gb, gc) in zip(rows, GOLDEN[encoding], strict=True):
        assert te == pytest.approx(ge, rel=1e-12) and nb == gb
        assert tc == pytest.approx(gc, rel=1e-12)
    assert env.cut_table.transfer_encoding == encoding


def test_encoded_table__toy_episode_golden():
    # one edge, frames at 0 and 1 s, float16 at 0.008 Mbit/s (bytes / 1000 s), cut 1
    # then cut 2: edge [0, 1.15], link [1.15, 1.65] (500 B), cloud [1.65, 2.475];
    # frame 1 starts at 1.15: edge [1.15, 4.25], link [4.25, 4.5], cloud [4.5, 4.8]
    for engine in ("python", "compiled"):
        env = EdgeCloudEnv(model="toy", bandwidth_mbps=0.008, n_edges=1, frames_per_edge=2,
                           fps=1.0, phase_s=[0.0], transfer_encoding="float16",
                           engine=engine)
        env.reset(seed=0)
        env.step(1)
        *_, info = env.step(2)
        assert info["metrics"]["makespan_s"] == pytest.approx(4.8, rel=1e-12)
        r = env.records()
        assert list(r.link_end_s) == pytest.approx([1.65, 4.5], rel=1e-12)


def test_float32__is_the_paper_table_itself():
    profile = load_profile("alexnet")
    table = make_cut_table(profile)
    assert encode_cut_table(profile, table, "float32") is table
    env = EdgeCloudEnv(transfer_encoding="float32")
    assert env.cut_table.edge_s.tolist() == table.edge_s.tolist()
    assert env.cut_table.transfer_bytes.tolist() == table.transfer_bytes.tolist()


def test_encoded_bytes__rounding_and_header():
    assert encoded_bytes(10, "float16") == 5 and encoded_bytes(6, "float16") == 3
    assert encoded_bytes(10, "int8") == 3 + 8 and encoded_bytes(0, "int8") == 0
    assert encoded_bytes(10, "float32") == 10


def test_fleet__each_edge_device_pays_its_own_encode_time():
    env = EdgeCloudEnv(model="alexnet", n_edges=2, edge_device=["rpi3b", "host"],
                       transfer_encoding="int8")
    rows = env._edge_rows(2)
    plain = EdgeCloudEnv(model="alexnet", n_edges=2, edge_device=["rpi3b", "host"])
    raw = plain._edge_rows(2)
    assert rows[0] == env.cut_table.edge_s.tolist()  # rpi3b: the table's edge device
    for row, base in zip(rows, raw, strict=True):
        assert row[0] == base[0] and row[-1] == base[-1]  # cloud-only, edge-only
        assert all(a > b for a, b in zip(row[1:-1], base[1:-1], strict=True))


def test_dag__encodes_every_tensor_a_cut_sends():
    profile = load_profile("googlenet")
    for encoding in ("float16", "int8"):
        t = EdgeCloudEnv(model="googlenet", transfer_encoding=encoding).cut_table
        assert t.transfer_bytes[0] == profile.input_bytes  # the input, as stated
        for i in range(1, t.n_cuts - 1):  # each cut's float32 costs, then encoded
            plain = cut_for_edge_set(profile, t.cuts[i].edge_layers, "rpi3b", "paper-cloud")
            assert t.transfer_bytes[i] < plain.transfer_bytes
            assert t.edge_s[i] > plain.edge_s and t.cloud_s[i] > plain.cloud_s


def test_dag__candidates_are_picked_by_the_encoded_sizes():
    # int8 quarters every intermediate tensor but not the input: the min-cut sweep at
    # 3G offers cuts the float32 sweep never would (ResNet18: 5 candidates -> 7)
    plain = EdgeCloudEnv(model="resnet18", bandwidth_mbps="3g").cut_table
    int8 = EdgeCloudEnv(model="resnet18", bandwidth_mbps="3g", transfer_encoding="int8")
    sets = {frozenset(c.edge_layers) for c in plain.cuts}
    assert {frozenset(c.edge_layers) for c in int8.cut_table.cuts} - sets


def test_encoding_reach__the_cells_docs_model_md_names():
    # docs/model.md, "Transfer encodings and the unreachable cells"
    from splitgym.experiments.encoding_reach import least_bound

    cells = [("darknet19", "3g"), ("resnet18", "3g"), ("resnet18", "4g"), ("googlenet", "3g")]
    reach = {(m, n, e): least_bound(m, n, e).reachable for m, n in cells
             for e in ("float32", "float16", "int8")}
    assert not any(reach[(m, n, "float32")] for m, n in cells)
    assert all(reach[(m, n, "int8")] for m, n in cells)
    assert [c for c in cells if reach[(*c, "float16")]] == [("resnet18", "4g"),
                                                          ("googlenet", "3g")]


def test_errors__named():
    with pytest.raises(ConfigError, match="transfer_encoding='fp16': expected one of"):
        EdgeCloudEnv(model="toy", transfer_encoding="fp16")
    doc = load_profile("toy").to_dict()
    del doc["devices"]["cloud"]["codecs"]
    with pytest.raises(EncodingError, match="device 'cloud' of profile 'toy' has no int8"):
        EdgeCloudEnv(model=load_profile(doc), transfer_encoding="int8")
    # an env without the figures still runs float32
    EdgeCloudEnv(model=load_profile(doc))


def test_profiler__measures_codec_costs_with_their_provenance():
    from torch import nn

    from splitgym.profiles.measure import measure_profile, scaled_device

    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 3), nn.Flatten(),
                        nn.Linear(4 * 12 * 12, 10))
    p = measure_profile(net, "mine", repeats=2, warmup=0, input_shape=(1, 3, 16, 16),
                        progress=False)
    codecs = p.devices["mine"]["codecs"]
    assert set(codecs) == {"float16", "int8", "provenance"}
    assert "measure_codecs on cpu" in codecs["provenance"]
    assert all(v >= 0 for enc in ("float16", "int8") for v in codecs[enc].values())
    env = EdgeCloudEnv(model=p, transfer_encoding="int8", bandwidth_mbps=1.0)
    assert env.cut_table.transfer_bytes[1] == p.layers[0].output_bytes // 4 + 8
    # a device derived by one factor gets the codec times by that factor, and says so
    q = scaled_device(p, "mine", "slow", 10 * p.whole_model_s("mine"), "10x slower")
    slow = q.devices["slow"]["codecs"]
    assert slow["int8"]["encode_s_per_mb"] == pytest.approx(
        10 * codecs["int8"]["encode_s_per_mb"], rel=1e-5)
    assert slow["provenance"].startswith("derived, not measured")
