"""`invoke device-pack`: what ci/device-bench.sh needs on a machine without network."""

from __future__ import annotations

from small_harness.ci.device_pack import PACK_DIR, pack
from small_harness.core.paths import relative


def device_pack(python: str) -> None:
    files = pack(python)
    size = sum(path.stat().st_size for path in files)
    print(f"wrote {len(files)} files, {size / 2**20:.1f} MiB, to {relative(PACK_DIR)}/: carry it, then run "
          "bash ci/device-bench.sh there")
