#!/usr/bin/env python3
"""configs/default.toml against the program's own --help (independent of the TOML file).

Usage: check_config.py ECOM TOML. For the top level and every subcommand listed by `ecom --help`,
the options are read from `ecom [<cmd>] --help`; every option must be in the TOML section of its
subcommand (top-level options at the top), and:
  - an option whose help shows a default: listed (not commented out) with that same value;
  - a flag (no value): listed as true or false;
  - an option with no default (required, or none): listed or commented out (`# name = ...`).
Every key in the file, listed or commented out, must be an option. Exits non-zero with one
line per problem.
"""
import re
import subprocess
import sys
import tomllib

ecom, toml_path = sys.argv[1], sys.argv[2]
SKIP = {"help", "version", "config"}


def help_text(*cmd):
    r = subprocess.run([ecom, *cmd, "--help"], capture_output=True, text=True, check=True)
    return r.stdout


def options(text):
    """name -> dict(type, default, multi, required, flag) from CLI11's help layout."""
    out = {}
    for line in text.splitlines():
        if not re.match(r"^  -", line):
            continue
        head = re.split(r"\s{2,}", line.strip())[0].split(" ")
        names = [n for n in head[0].split(",") if n.startswith("--")]
        name = re.sub(r"\{.*\}$", "", names[0])[2:]
        if name in SKIP:
            continue
        o = dict(type=None, default=None, multi="..." in head, required="REQUIRED" in head,
                 flag=len(head) == 1)
        if len(head) > 1 and head[1] not in ("...", "REQUIRED"):
            spec = head[1]
            if "=" in spec:
                spec, o["default"] = spec.split("=", 1)
            o["type"] = spec.split(":", 1)[0]
        out[name] = o
    return out


def subcommands(text):
    subs, on = [], False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            on = True
        elif on and re.match(r"^  [a-z]", line):
            subs.append(line.split()[0])
        elif on and line and not line.startswith(" "):
            on = False
    return subs


def same(o, default, value):
    t = o["type"]
    if o["multi"]:
        if not (default.startswith("[") and default.endswith("]")):
            return False
        items = [x for x in default[1:-1].split(",") if x != ""]
        return isinstance(value, list) and [str(v) for v in value] == items
    if t in ("INT", "UINT"):
        return not isinstance(value, bool) and isinstance(value, (int, float)) and value == int(default)
    if t == "FLOAT":
        return not isinstance(value, bool) and isinstance(value, (int, float)) and float(value) == float(default)
    if t == "BOOLEAN":
        return isinstance(value, bool) and value == (default in ("1", "true"))
    return isinstance(value, str) and value == default


raw = open(toml_path, encoding="utf-8").read()
doc = tomllib.loads(raw)
commented, section = {}, ""
for line in raw.splitlines():
    m = re.match(r"^\[([\w-]+)\]", line)
    if m:
        section = m.group(1)
    m = re.match(r"^#\s*([\w-]+)\s*=", line)
    if m:
        commented.setdefault(section, set()).add(m.group(1))

top = help_text()
cmds = subcommands(top)
problems = []
if len(cmds) < 5:
    problems.append(f"only {len(cmds)} subcommands found in `ecom --help`: {cmds}")
checked = 0
for cmd in [""] + cmds:
    opts = options(top if cmd == "" else help_text(cmd))
    if not opts and cmd != "":
        problems.append(f"no options parsed from `ecom {cmd} --help`")
    table = {k: v for k, v in doc.items() if not isinstance(v, dict)} if cmd == "" else doc.get(cmd, {})
    where = "top level" if cmd == "" else f"[{cmd}]"
    for name, o in opts.items():
        checked += 1
        listed, hidden = name in table, name in commented.get(cmd, set())
        if not listed and not hidden:
            problems.append(f"{where}: option --{name} is missing")
        elif o["flag"]:
            if not listed or not isinstance(table[name], bool):
                problems.append(f"{where}: flag --{name} must be listed as true or false")
        elif o["default"] is not None:
            if not listed:
                problems.append(f"{where}: --{name} has default {o['default']} but is commented out")
            elif not same(o, o["default"], table[name]):
                problems.append(f"{where}: {name} = {table[name]!r} but the default is {o['default']}")
        elif o["required"] and listed:
            problems.append(f"{where}: --{name} is required (no default) but listed")
    for key in sorted(set(table) | commented.get(cmd, set())):
        if key not in opts:
            problems.append(f"{where}: key {key} is not an option of `ecom {cmd}`".replace(" `ecom `", " `ecom`"))
for name in doc:
    if isinstance(doc[name], dict) and name not in cmds:
        problems.append(f"[{name}] is not a subcommand")
for p in problems:
    print("FAIL:", p)
print(f"{checked} options of {len(cmds)} subcommands and the top level checked against --help")
sys.exit(1 if problems else 0)
