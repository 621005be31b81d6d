"""Replay mode: a simulated device answers with the captured frames of a test vector.

Vectors come from ../shared/vectors/vectors.json (the project's captured
frames) and tests/fixtures/vectors.json (captures added since). A request is answered by
the frames the vector maps to it (`request_frame_map`); a Modbus read the
capture does not hold exactly is matched by slave, function and start
register. Vectors without requests are streamed (Topband, JK) or read
(Battery Service). This anchors the simulator to real devices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VECTOR_FILES = (ROOT.parent / "shared" / "vectors" / "vectors.json",
                ROOT / "tests" / "fixtures" / "vectors.json")


@cache
def load_vectors(path: str | None = None) -> dict[str, dict[str, Any]]:
    """Vectors by id from `path`, or from every vector file that exists (the first wins an id)."""
    candidates = [Path(path)] if path else [p for p in VECTOR_FILES if p.exists()]
    if not candidates:
        raise FileNotFoundError("no vectors.json found in " + ", ".join(map(str, VECTOR_FILES)))
    table: dict[str, dict[str, Any]] = {}
    for candidate in candidates:
        for vector in json.loads(candidate.read_text()):
            table.setdefault(vector["id"], vector)
    return table


@dataclass
class Replay:
    """Captured request → frames of one vector."""

    vector_id: str
    family: str
    requests: list[bytes]
    frames: list[bytes]
    frame_map: list[list[int]]
    expected: dict[str, Any] | None = None
    _stream_pos: int = field(default=0)

    @classmethod
    def load(cls, vector_id: str, vectors: Any = None) -> Replay:
        """The replay of a vector id; `vectors` is a path or a {id: vector} mapping."""
        table = vectors if isinstance(vectors, dict) else load_vectors(vectors)
        try:
            v = table[vector_id]
        except KeyError:
            raise KeyError(f"no vector {vector_id!r}") from None
        requests = [bytes.fromhex(r) for r in v.get("requests") or []]
        frames = [bytes.fromhex(f) for f in v["frames"]]
        frame_map = v.get("request_frame_map") or [[i] for i in range(len(frames))]
        return cls(vector_id, v["family"], requests, frames, frame_map, v.get("expected"))

    def answer(self, request: bytes) -> list[bytes]:
        """Frames answering a request (empty when the capture holds no answer)."""
        for index, captured in enumerate(self.requests):
            if captured == request:
                return [self.frames[i] for i in self.frame_map[index]]
        if len(request) == 8:  # Modbus read: same slave, function and start register
            for index, captured in enumerate(self.requests):
                if len(captured) == 8 and captured[:4] == request[:4]:
                    return [self.frames[i] for i in self.frame_map[index]]
        return []

    def stream(self) -> list[bytes]:
        """Next streamed frame of a vector without requests (cycling), else nothing."""
        if self.requests:
            return []
        frame = self.frames[self._stream_pos % len(self.frames)]
        self._stream_pos += 1
        return [frame]

    def read(self) -> bytes | None:
        """Value of a read for a vector without requests."""
        return None if self.requests else self.frames[-1]
