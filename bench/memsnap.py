#!/usr/bin/env python3
"""Memory snapshots for the density rows of bench/run-all.

usage: memsnap.py available
           prints the host's MemAvailable in KiB (/proc/meminfo): the median of
           5 samples 100 ms apart, which smooths a little of what other work on
           the machine does in the same second
       memsnap.py containers PID...
           PIDs are the init processes of idle containers. Prints one JSON object:
           - pss_container_kib: PSS of every init and its descendants
           - pss_monitor_kib: PSS of each init's parent (conmon for podman, the
             kapsel monitor for kapsel), each parent counted once
           - cgroup_kib: memory.usage_in_bytes of each init's v1 memory cgroup
             (anonymous, page cache and kernel memory charged to the container),
             each cgroup counted once
           - alive: how many of the PIDs still exist
PSS (proportional set size) splits a page shared by k processes into k parts, so
the binaries' shared pages are counted once in total, not once per process.
"""
import json
import os
import statistics
import sys
import time


def mem_available_kib():
    samples = []
    for i in range(5):
        if i:
            time.sleep(0.1)
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    samples.append(int(line.split()[1]))
    return int(statistics.median(samples))


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces and parentheses: split after the last ')'.
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def children_map():
    kids = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            kids.setdefault(ppid_of(int(entry)), []).append(int(entry))
    return kids


def memory_cgroup(pid):
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if "memory" in controllers.split(","):
                    return "/sys/fs/cgroup/memory" + path
    except OSError:
        pass
    return None


def containers(pids):
    kids = children_map()
    alive = [p for p in pids if os.path.exists(f"/proc/{p}")]
    tree = set()
    stack = list(alive)
    while stack:
        p = stack.pop()
        if p in tree:
            continue
        tree.add(p)
        stack.extend(kids.get(p, []))
    monitors = {ppid_of(p) for p in alive} - {0, 1}
    cgroups = {c for c in (memory_cgroup(p) for p in alive) if c}
    cgroup_bytes = 0
    for c in cgroups:
        try:
            with open(os.path.join(c, "memory.usage_in_bytes")) as f:
                cgroup_bytes += int(f.read())
        except OSError:
            pass
    return {
        "containers": len(pids),
        "alive": len(alive),
        "processes": len(tree),
        "monitors": len(monitors),
        "cgroups": len(cgroups),
        "pss_container_kib": sum(pss_kib(p) for p in tree),
        "pss_monitor_kib": sum(pss_kib(p) for p in monitors),
        "cgroup_kib": cgroup_bytes // 1024,
    }


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "available":
        print(mem_available_kib())
    elif len(sys.argv) >= 2 and sys.argv[1] == "containers":
        print(json.dumps(containers([int(p) for p in sys.argv[2:]])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
