"""The same batch on a Dask cluster (a LocalCluster here, two threads per worker so that the
Advisor's thread-safety is exercised) gives byte-identical output."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.cli import main

from conftest import ROOT

distributed = pytest.importorskip("distributed", reason="the dask extra is part of the test extra")


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_dask_batch_matches_the_local_run(tmp_path, capsys):
    args = [str(ROOT / "profiles"), "--format", "markdown,json", "--today", "2026-12-01", "--quiet"]
    assert main(["batch", *args, "-o", str(tmp_path / "local")]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        assert main(["batch", *args, "-o", str(tmp_path / "dask"), "--dask", cluster.scheduler_address]) == 0
        # The work really ran on the cluster's workers.
        assert {"parse_source", "brief_one"} <= set(cluster.scheduler.task_prefixes)
    assert tree(tmp_path / "dask") == tree(tmp_path / "local")


def test_dask_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys):
    code = main(["batch", str(ROOT / "profiles"), "-o", str(tmp_path), "--quiet", "--dask", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2  # usage: exit 2, like every input that cannot be reached
    assert (
        err
        == "advisor batch: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: ConnectionRefusedError: [Errno 111] Connection refused\n"
    )
    assert "Traceback" not in err
