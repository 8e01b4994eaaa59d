"""The local cluster's clean-up: it ends every process of its own sessions and nothing else."""

import subprocess
import sys
import time

import pytest

from mechdsl.sweep.ray_cluster import LocalRayCluster, end_sessions, session_processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_end_sessions_ends_a_session_with_its_orphans_and_spares_other_processes():
    # a leader that starts a child which outlives it (as `ray start` leaves its daemons behind)
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & exec sleep 60"], start_new_session=True)
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while len(session_processes(leader.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(session_processes(leader.pid)) == 2
        end_sessions([leader.pid], grace=2)
        leader.wait(timeout=5)
        assert session_processes(leader.pid) == []
        assert bystander.poll() is None and session_processes(bystander.pid) == [bystander.pid]
    finally:
        leader.kill()
        bystander.kill()
        bystander.wait()


def test_nodes_sit_on_distinct_loopback_addresses_and_a_bad_size_is_refused(tmp_path):
    assert [LocalRayCluster.node_ip(i) for i in range(3)] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    with pytest.raises(ValueError, match="at least one node"):
        LocalRayCluster(nodes=0)
