"""Named, independent random streams derived from one seed.

Each consumer (the network, the scheduler, the UID generator, each etcd member) draws from its own
stream, so an extra draw in one place cannot change the numbers another gets. String seeding is
stable across processes and PYTHONHASHSEED values.
"""

from __future__ import annotations

import random
import uuid


class Seeds:
    """One seed, many streams: `seeds.stream("network")` is the same sequence on every run."""

    def __init__(self, seed: int | str = 0) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """The stream called `name`, created on first use and the same object afterwards."""
        rng = self._streams.get(name)
        if rng is None:
            rng = self._streams[name] = random.Random(f"{self.seed}/{name}")
        return rng

    def uid(self, stream: str = "uid") -> str:
        """A UUID (version 4 layout) drawn from a stream: unique per run, identical across runs."""
        return str(uuid.UUID(int=self.stream(stream).getrandbits(128), version=4))

    def __repr__(self) -> str:
        return f"Seeds({self.seed!r})"
