"""Multi-host test bed: real hosts (network namespace + ``systemd-nspawn --boot``) on this
machine for deployment tests. See tests/bed/README.md; ``scripts/testbed`` is its command line.
"""

from tests.bed.bed import Host, Testbed, default_state_dir
from tests.bed.system import BedError

__all__ = ["BedError", "Host", "Testbed", "default_state_dir"]
