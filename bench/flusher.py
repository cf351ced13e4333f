"""One flusher of the benchmark: flush every shard whose number is `part` modulo `parts`, then print what it moved."""

import argparse
import json
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", type=int, required=True)
    parser.add_argument("--parts", type=int, required=True)
    args = parser.parse_args()
    django.setup()
    from tutor import buffer, ingest

    started, events = time.monotonic(), 0
    for shard in buffer.shards():
        if shard.number % args.parts == args.part:
            events += ingest.flush(shard=shard).events
    print(json.dumps({"events": events, "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    main()
