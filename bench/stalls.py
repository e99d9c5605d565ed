"""The longest pauses in a server's answers, and what each CPU ran during them (see stalls.sh).

Input: the server's JSON access log (one line an answer; its `time` has microseconds; the
answers within `--duration` of `--from` count), the text of `perf script` for
`sched:sched_switch` on every CPU recorded with `-k mono`, the offset from CLOCK_MONOTONIC to
wall-clock time, and the server's thread ids. Output: how many pauses longer
than 1, 2 and 5 ms there were and how long they took in all; then the TOP longest, in time
order, each with the time each CPU spent on the server, on wrk, on other processes (named) and
idle during it; with samples in the trace (`perf -e cpu-clock`), the functions the server
was in during it.
"""

import argparse
import bisect
import collections
import datetime
import re

SAMPLE = re.compile(r"\s(\d+) \[\d+\]\s+(\d+\.\d+):\s+\d+\s+cpu-clock:\s+\S+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\(")
SWITCH = re.compile(
    r"\[(\d+)\]\s+(\d+\.\d+): sched:sched_switch: prev_comm=.*? prev_pid=\d+ .*?"
    r"==> next_comm=(.*?) next_pid=(\d+)"
)


def answer_times(path, offset, start, end):
    """The monotonic time of every access line between start and end, sorted."""
    times = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            at = line.find('{"time":"')
            if at < 0 or '"status"' not in line:
                continue
            stamp = line[at + 9 : at + 9 + 27].replace("Z", "+00:00")
            try:
                time = datetime.datetime.fromisoformat(stamp).timestamp() - offset
            except ValueError:
                continue
            if start <= time <= end:
                times.append(time)
    times.sort()
    return times


def switches(path, server):
    """Per CPU: the sorted (time, comm, tid) of each thread switched in, and their times; and
    the sorted (time, function) of each sample taken in one of the server's threads (none unless
    perf sampled), and their times."""
    per_cpu = collections.defaultdict(list)
    samples = []
    with open(path, encoding="utf-8", errors="replace") as text:
        for line in text:
            match = SWITCH.search(line)
            if match:
                cpu, time, comm, tid = match.groups()
                per_cpu[int(cpu)].append((float(time), comm, int(tid)))
                continue
            match = SAMPLE.search(line)
            if match and int(match.group(1)) in server:
                samples.append((float(match.group(2)), match.group(3)))
    for events in per_cpu.values():
        events.sort()
    samples.sort()
    return (
        {cpu: (events, [event[0] for event in events]) for cpu, events in per_cpu.items()},
        (samples, [sample[0] for sample in samples]),
    )


def sampled(samples, times, start, end):
    """The functions the server's samples between start and end were in, most often first."""
    found = samples[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
    return collections.Counter(function for _, function in found)


def occupancy(events, times, start, end, server):
    """Milliseconds each kind of thread ran on one CPU between start and end."""
    spent = collections.Counter()
    index = max(bisect.bisect_right(times, start) - 1, 0)
    while index < len(events) and events[index][0] < end:
        time, comm, tid = events[index]
        until = events[index + 1][0] if index + 1 < len(events) else end
        ran = min(until, end) - max(time, start)
        if ran > 0:
            if tid == 0:
                who = "idle"
            elif tid in server:
                who = "server"
            elif comm == "wrk":
                who = "wrk"
            else:
                who = f"{comm}[{tid}]"
            spent[who] += ran * 1e3
        index += 1
    return spent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True)
    parser.add_argument("--switches", required=True)
    parser.add_argument("--offset", type=float, required=True)
    parser.add_argument("--from", dest="start", type=float, required=True, help="the load's start (monotonic s)")
    parser.add_argument("--duration", type=float, required=True, help="the load's length (s)")
    parser.add_argument("--server-threads", required=True, help="comma-separated thread ids")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    server = {int(tid) for tid in args.server_threads.split(",") if tid}
    times = answer_times(args.log, args.offset, args.start, args.start + args.duration)
    if len(times) < 2:
        raise SystemExit("no access lines in the log")
    per_cpu, (samples, sample_times) = switches(args.switches, server)
    pauses = [(times[i + 1] - times[i], times[i]) for i in range(len(times) - 1)]
    print(f"{len(times)} answers in {times[-1] - times[0]:.2f} s")
    for threshold in (1, 2, 5):
        longer = [pause for pause, _ in pauses if pause * 1e3 > threshold]
        print(f"pauses over {threshold} ms: {len(longer)}, {sum(longer) * 1e3:.1f} ms in all")
    print(f"the {args.top} longest (s into the load: length; ms each CPU spent on each kind of thread):")
    for pause, start in sorted(sorted(pauses, reverse=True)[: args.top], key=lambda p: p[1]):
        cells = []
        for cpu in sorted(per_cpu):
            spent = occupancy(*per_cpu[cpu], start, start + pause, server)
            cells.append(f"cpu{cpu} " + ", ".join(f"{who} {ms:.1f}" for who, ms in spent.most_common(4)))
        print(f"  {start - times[0]:7.3f}: {pause * 1e3:5.2f} ms | " + " | ".join(cells))
        if samples:
            functions = sampled(samples, sample_times, start, start + pause)
            if functions:
                print("           server in: " + ", ".join(f"{name[:70]} ({n})" for name, n in functions.most_common(3)))


if __name__ == "__main__":
    main()
