# Prints, as JSON, the line table of sample() and the line of every
# instruction offset as this interpreter computes it (co_lines on 3.10+,
# dis.findlinestarts on 3.9): the expected output of the Go decoders.
import dis
import json
import sys


def sample(a):
    x = 1
    for i in range(a):
        x += i
        if x > 10:
            x -= 3
    try:
        x = x // (a - a)
    except ZeroDivisionError:
        x = -x
    return [y for y in range(x)
            if y % 2]


co = sample.__code__
out = {"first": co.co_firstlineno, "minor": sys.version_info[1], "lines": {}}
if sys.version_info >= (3, 10):
    out["table"] = co.co_linetable.hex()
    for start, end, line in co.co_lines():
        for off in range(start, end, 2):
            out["lines"][off] = line or 0
else:
    out["table"] = co.co_lnotab.hex()
    starts = list(dis.findlinestarts(co))
    cur, i = co.co_firstlineno, 0
    for off in range(0, len(co.co_code), 2):
        while i < len(starts) and starts[i][0] <= off:
            cur = starts[i][1]
            i += 1
        out["lines"][off] = cur
print(json.dumps(out))
