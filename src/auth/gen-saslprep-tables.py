# Regenerates src/auth/saslprep-tables.ts from Python's stringprep module (RFC 3454 tables,
# on unicodedata.ucd_3_2_0). Usage: python3 src/auth/gen-saslprep-tables.py > src/auth/saslprep-tables.ts
import stringprep, textwrap

def ranges(pred):
    out = []; start = None
    for c in range(0x110000):
        if pred(c):
            if start is None: start = c
        elif start is not None:
            out.append((start, c - 1)); start = None
    if start is not None: out.append((start, 0x10FFFF))
    return out

def enc(rs):
    s = ' '.join(f'{a:x}' if a == b else f'{a:x}-{b:x}' for a, b in rs)
    return '\n'.join("  '" + line + " ' +" for line in textwrap.wrap(s, 96))[:-2]

tables = {
  'UNASSIGNED_3_2': ('A.1 Unassigned code points in Unicode 3.2', lambda c: stringprep.in_table_a1(chr(c))),
  'RAND_AL_CAT': ('D.1 Characters with bidirectional property R or AL', lambda c: stringprep.in_table_d1(chr(c))),
  'L_CAT': ('D.2 Characters with bidirectional property L', lambda c: stringprep.in_table_d2(chr(c))),
}
print('''/**
 * RFC 3454 tables SASLprep needs that are too large to write by hand, as code point ranges
 * ("start-end" or a single code point, hex, space-separated). Generated from Python's
 * stringprep module (Unicode 3.2 data, unicodedata.ucd_3_2_0) with:
 *   python3 src/auth/gen-saslprep-tables.py > src/auth/saslprep-tables.ts
 * Do not edit by hand.
 */
''')
for name, (title, pred) in tables.items():
    rs = ranges(pred)
    print(f'/** {title} ({len(rs)} ranges). */')
    print(f'export const {name} =')
    print(enc(rs) + ';')
    print()
