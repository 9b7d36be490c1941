#!/usr/bin/env python3
"""Print every scalar series of a TensorBoard log directory as JSON {tag: [[step, value], ...]},
read by TensorBoard's own EventAccumulator: the check behind `export-metrics --format
tensorboard` (tests/engine/metrics_out.rs)."""
import sys, json
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
print(json.dumps(out))
