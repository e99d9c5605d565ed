#!/usr/bin/env python3
"""Reads callgrind profiles (written with --demangle=no) and prints the mangled names of the
functions of one object file that ran, the most instructions first: a symbol ordering file
for the linker (`--symbol-ordering-file`). See bench/layout.sh.

usage: bench/layout_order.py OBJECT_PATH PROFILE... > link/hot-functions.txt
"""
import re, sys
from collections import defaultdict

target, profiles = sys.argv[1], sys.argv[2:]
name_ref = re.compile(r"\((\d+)\)(?: (.*))?")


def resolve(table, text):
    """A compressed callgrind name: `(id) name` the first time, `(id)` after."""
    match = name_ref.match(text)
    if not match:
        return text
    key, name = match.groups()
    if name is not None:
        table[key] = name
    return table.get(key, "")


cost = defaultdict(int)
for profile in profiles:
    objects, functions = {}, {}
    current_object = function = None
    call_object = None
    after_calls = False
    with open(profile, errors="replace") as lines:
        for line in lines:
            if line.startswith("ob="):
                current_object = resolve(objects, line[3:].strip())
            elif line.startswith("fn="):
                function = resolve(functions, line[3:].strip())
                if current_object == target:
                    cost[function] += 0
            elif line.startswith("cob="):
                call_object = resolve(objects, line[4:].strip())
            elif line.startswith("cfn="):
                callee = resolve(functions, line[4:].strip())
                if (call_object or current_object) == target:
                    cost[callee] += 0
            elif line.startswith("calls="):
                after_calls = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                if after_calls:
                    # The inclusive cost of the call just named: not this function's own.
                    after_calls, call_object = False, None
                elif current_object == target and function:
                    fields = line.split()
                    if len(fields) > 1:
                        cost[function] += int(fields[1])

# `name'2`: a recursion level (callgrind's --separate-recs); `0x…`: no symbol.
merged = defaultdict(int)
for name, instructions in cost.items():
    merged[re.sub(r"'\d+$", "", name)] += instructions
symbol = re.compile(r"^[A-Za-z_.$][\w.$]*$")
names = sorted((name for name in merged if symbol.match(name)), key=lambda name: (-merged[name], name))
sys.stdout.write("".join(name + "\n" for name in names))
print(f"{len(names)} functions ran in {target}", file=sys.stderr)
