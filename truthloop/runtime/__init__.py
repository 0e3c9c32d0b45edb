"""Background work: what runs without anyone asking, beside the portal (see background.py).

The worker's defaults live here, where the CLI reads them without importing the queue (huey)
and the workflows behind it.
"""

# Seconds between the rounds of due work a worker enqueues: the work's sub-minute cadence.
DEFAULT_INTERVAL_S = 5.0
# Threads of one worker process: an iteration trains for minutes, and the sweep and the other
# jobs must not wait behind it.
DEFAULT_THREADS = 2
