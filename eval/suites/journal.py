"""A journal of finished result rows, so that a long evaluation cut off part-way resumes where it stopped.

``Journal(path, key)`` is a JSON-lines file: a header line holding ``key`` (what the rows were computed for,
e.g. the leaderboard's cache key: model export and protocol hash), then one line per finished
``Context.result`` (its cache key, the row and the per-trial correctness arrays). Each line is flushed and
fsynced when written, so a killed process loses at most the row it was computing; a torn last line is
ignored. A journal made for another key is discarded. ``remove()`` deletes it once the final report exists.

Rows computed after a restart draw fresh noise (the TensorFlow random stream restarts from the seed), so a
resumed random model's numbers match an uninterrupted run's in distribution, not bit for bit.
"""
import json
import os

import numpy as np


class Journal:
    def __init__(self, path, key):
        self.path, self.key = path, json.loads(json.dumps(key, sort_keys=True, default=str))
        self._rows = {}
        if os.path.isfile(path):
            self._read()
        self._rewrite()  # header and the rows kept: drops a torn tail or another run's journal before appending
        self.restored = len(self._rows)  # rows from an earlier, interrupted session
        self.restored_seconds = round(sum(row.get("seconds", 0.0) for row, _ in self._rows.values()), 1)

    def _read(self):
        with open(self.path) as f:
            lines = f.read().split("\n")
        try:
            header = json.loads(lines[0])
        except ValueError:
            return
        if header.get("journal") != self.key:
            return  # made for another export or protocol: start over
        for line in lines[1:]:
            try:
                entry = json.loads(line)
            except ValueError:
                break  # a torn last line (the process died while writing it)
            self._rows[entry["key"]] = (entry["row"], [np.asarray(c, dtype=bool) for c in entry["correct"]])

    def _rewrite(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps({"journal": self.key}, sort_keys=True) + "\n")
            for key, (row, correct) in self._rows.items():
                f.write(self._line(key, row, correct))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @staticmethod
    def _line(key, row, correct):
        return json.dumps({"key": key, "row": row, "correct": [np.asarray(c).astype(int).tolist() for c in correct]},
                          default=str) + "\n"

    @staticmethod
    def encode(key):
        return json.dumps(list(key), default=str)

    def get(self, key):
        """(row, correct) of a result journaled earlier, or None."""
        return self._rows.get(self.encode(key))

    def put(self, key, row, correct):
        encoded = self.encode(key)
        self._rows[encoded] = (row, correct)
        with open(self.path, "a") as f:
            f.write(self._line(encoded, row, correct))
            f.flush()
            os.fsync(f.fileno())

    def remove(self):
        if os.path.exists(self.path):
            os.remove(self.path)
