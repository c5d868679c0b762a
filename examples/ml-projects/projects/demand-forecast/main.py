"""Entrypoint `main` of demand-forecast: a stand-in for a batch inference."""

import sys

for day in range(1, 4):
    print(f"forecast day {day}: {100 + day * 7} units")
print("done", file=sys.stderr)
