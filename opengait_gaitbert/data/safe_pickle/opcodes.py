"""What each pickle opcode does on the machine (:data:`_HANDLERS`), and how its arguments are decoded.

Opcodes that build objects by calling a class have no handler: the machine refuses them.
"""
from __future__ import annotations

import codecs
import pickle
import pickletools
import struct
from typing import TYPE_CHECKING

from .allow_list import _GLOBALS
from .refusals import _Malformed, _Refused, _Unsafe
from .source import _Source

if TYPE_CHECKING:  # the handlers only call the machine's methods
    from .machine import _Machine

_MAX_LONG_BYTES = 64  # a pickled int wider than this is no array dimension or count


_STOP = object()


def _int(data: bytes, signed: bool = False) -> int:
    return int.from_bytes(data, "little", signed=signed)


def _text_int(line: bytes):
    if line in (b"00", b"01"):  # protocol 0's False / True
        return line == b"01"
    if len(line) > 2 * _MAX_LONG_BYTES:
        raise _Unsafe("it holds a number too long for an array")
    try:
        return int(line.rstrip(b"L"))
    except ValueError as err:
        raise _Malformed(f"invalid number {line[:40]!r}") from err


def _text_float(line: bytes):
    if len(line) > 64:
        raise _Malformed("a float argument too long")
    try:
        return float(line)
    except ValueError as err:
        raise _Malformed(f"invalid float {line[:40]!r}") from err


def _quoted(line: bytes) -> str:
    """Protocol 0's STRING argument: a quoted Python 2 string literal, decoded as ASCII."""
    if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
        raise _Malformed("the STRING opcode argument must be quoted")
    try:
        return _ascii(codecs.escape_decode(line[1:-1])[0])
    except ValueError as err:
        raise _Malformed(f"bad STRING argument ({err})") from err


def _ascii(data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as err:
        raise _Malformed("a Python 2 string that is not ASCII") from err


def _raw_unicode(data: bytes) -> str:
    try:
        return data.decode("raw-unicode-escape")
    except UnicodeDecodeError as err:
        raise _Malformed(f"bad UNICODE argument ({err.reason})") from err


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as err:
        raise _Malformed(f"a string that is not UTF-8 ({err.reason})") from err


def _global(machine: _Machine, module, name):
    if not isinstance(module, str) or not isinstance(name, str):
        raise _Malformed("STACK_GLOBAL requires str")
    found = _GLOBALS.get((module, name))
    if found is None:
        raise _Refused(f"{module}.{name}")
    machine.stack.append(found)


def _sized(width: int, signed: bool = False, big: bool = False):
    """A reader of an argument whose length is stored in ``width`` bytes; ``big`` arguments (bytes)
    longer than the source's window are left in the file as a :class:`_Blob`."""
    def read(machine: _Machine, kind):
        n = _int(machine.source.take(width), signed)
        if n < 0:
            raise _Malformed("a negative byte count")
        if big and n > _Source.WINDOW:
            return machine.source.skip(n, kind)
        if n > machine.source.size:
            raise _Malformed("pickle data was truncated")
        data = machine.source.take(n)
        return data if kind is bytes else (_utf8(data) if kind is str else bytearray(data))
    return read


_LEN1, _LEN4, _LEN8 = _sized(1), _sized(4), _sized(8)
_BLOB1, _BLOB4, _BLOB8 = _sized(1, big=True), _sized(4, big=True), _sized(8, big=True)
_SLEN4 = _sized(4, signed=True)


def _push(value):
    return lambda m: m.stack.append(value)


def _add_to(m: _Machine, kind: type, items, opcode: str) -> None:
    """Add ``items`` (made plain) to the list or set on top of the stack."""
    values = [m.plain(item) for item in items]
    target = m.top()
    if type(target) is not kind:
        raise _Unsafe(f"{opcode} to something that is not a {kind.__name__}")
    if kind is list:
        target.extend(values)
    else:
        target.update(values)


def _setitems(m: _Machine, items):
    if len(items) % 2:
        raise _Malformed("odd number of items for SETITEMS")
    target = m.top()
    if type(target) is not dict:
        raise _Unsafe("SETITEM on something that is not a dict")
    for i in range(0, len(items), 2):
        target[m.plain(items[i])] = m.plain(items[i + 1])


def _dict_of(m: _Machine):
    items = m.pop_mark()
    m.stack.append({})
    _setitems(m, items)


def _tuple_n(n: int):
    def op(m: _Machine):
        items = [m.pop() for _ in range(n)][::-1]
        m.stack.append(m.tuple_of(items))
    return op


def _put(m: _Machine, index):
    if index < 0:
        raise _Malformed("negative PUT argument")
    m.memo[index] = m.top()


def _get(m: _Machine, index):
    try:
        m.stack.append(m.memo[index])
    except KeyError:
        raise _Malformed(f"Memo value not found at index {index}") from None


def _reduce(m: _Machine):
    args = m.pop()
    func = m.pop()
    m.stack.append(m.reduce(func, args))


def _build(m: _Machine):
    state = m.pop()
    m.build(m.top(), state)


def _frame(m: _Machine):
    if _int(m.source.take(8)) > m.source.size:
        raise _Malformed("pickle data was truncated")  # a frame longer than the file


def _proto(m: _Machine):
    if m.source.take(1)[0] > pickle.HIGHEST_PROTOCOL:
        raise _Malformed("unsupported pickle protocol")


def _long_bytes(m: _Machine, width: int):
    n = _int(m.source.take(width), signed=width == 4)
    if n < 0:
        raise _Malformed("LONG pickle has negative byte count")
    if n > _MAX_LONG_BYTES:
        raise _Unsafe(f"it holds a {n}-byte number, too long for an array")
    m.stack.append(_int(m.source.take(n), signed=True))


def _extension(m: _Machine, width: int):
    raise _Refused(f"<extension {_int(m.source.take(width))}>")


def _pop(m: _Machine):
    if len(m.stack) > (m.marks[-1] if m.marks else 0) or not m.marks:
        m.pop()
    else:  # as pickle does: POP on an empty top of the stack drops the MARK
        m.marks.pop()


def _inst(m: _Machine):
    module, name = _utf8(m.source.line()), _utf8(m.source.line())
    if (module, name) not in _GLOBALS:
        raise _Refused(f"{module}.{name}")
    raise _Unsafe(f"it builds an object of {module}.{name} with INST")


def _pop_mark(m: _Machine):
    m.pop_mark()


def _mark(m: _Machine):
    m.marks.append(len(m.stack))


def _frozenset(m: _Machine):
    m.stack.append(frozenset(m.plain(item) for item in m.pop_mark()))


def _text_global(m: _Machine):
    module, name = _utf8(m.source.line()), _utf8(m.source.line())
    _global(m, module, name)


def _stack_global(m: _Machine):
    name = m.pop()
    module = m.pop()
    _global(m, module, name)


def _setitem(m: _Machine):
    value = m.pop()
    key = m.pop()
    _setitems(m, [key, value])


_HANDLERS = {
    0x80: _proto, 0x95: _frame, ord("."): lambda m: _STOP,
    ord("("): _mark, ord("0"): _pop, ord("i"): _inst, ord("1"): _pop_mark, ord("2"): lambda m: m.stack.append(m.top()),
    ord("N"): _push(None), 0x88: _push(True), 0x89: _push(False),
    ord("I"): lambda m: m.stack.append(_text_int(m.source.line())),
    ord("L"): lambda m: m.stack.append(_text_int(m.source.line())),
    ord("J"): lambda m: m.stack.append(_int(m.source.take(4), signed=True)),
    ord("K"): lambda m: m.stack.append(m.source.take(1)[0]),
    ord("M"): lambda m: m.stack.append(_int(m.source.take(2))),
    0x8a: lambda m: _long_bytes(m, 1), 0x8b: lambda m: _long_bytes(m, 4),
    ord("F"): lambda m: m.stack.append(_text_float(m.source.line())),
    ord("G"): lambda m: m.stack.append(struct.unpack(">d", m.source.take(8))[0]),
    ord("S"): lambda m: m.stack.append(_quoted(m.source.line())),
    ord("T"): lambda m: m.stack.append(_ascii(_SLEN4(m, bytes))),
    ord("U"): lambda m: m.stack.append(_ascii(_LEN1(m, bytes))),
    ord("V"): lambda m: m.stack.append(_raw_unicode(m.source.line())),
    ord("X"): lambda m: m.stack.append(_LEN4(m, str)),
    0x8c: lambda m: m.stack.append(_LEN1(m, str)),
    0x8d: lambda m: m.stack.append(_LEN8(m, str)),
    ord("C"): lambda m: m.stack.append(_BLOB1(m, bytes)),
    ord("B"): lambda m: m.stack.append(_BLOB4(m, bytes)),
    0x8e: lambda m: m.stack.append(_BLOB8(m, bytes)),
    0x96: lambda m: m.stack.append(_BLOB8(m, bytearray)),
    ord("]"): lambda m: m.stack.append([]), ord("a"): lambda m: _add_to(m, list, [m.pop()], "APPEND"),
    ord("e"): lambda m: _add_to(m, list, m.pop_mark(), "APPENDS"),
    ord("l"): lambda m: m.stack.append([m.plain(item) for item in m.pop_mark()]),
    ord(")"): _push(()), ord("t"): lambda m: m.stack.append(m.tuple_of(m.pop_mark())),
    0x85: _tuple_n(1), 0x86: _tuple_n(2), 0x87: _tuple_n(3),
    ord("}"): lambda m: m.stack.append({}), ord("d"): _dict_of, ord("s"): _setitem,
    ord("u"): lambda m: _setitems(m, m.pop_mark()),
    0x8f: lambda m: m.stack.append(set()), 0x90: lambda m: _add_to(m, set, m.pop_mark(), "ADDITEMS"),
    0x91: _frozenset,
    ord("c"): _text_global, 0x93: _stack_global,
    ord("R"): _reduce, ord("b"): _build,
    ord("p"): lambda m: _put(m, _text_int(m.source.line())),
    ord("q"): lambda m: _put(m, m.source.take(1)[0]),
    ord("r"): lambda m: _put(m, _int(m.source.take(4))),
    0x94: lambda m: _put(m, len(m.memo)),
    ord("g"): lambda m: _get(m, _text_int(m.source.line())),
    ord("h"): lambda m: _get(m, m.source.take(1)[0]),
    ord("j"): lambda m: _get(m, _int(m.source.take(4))),
    0x82: lambda m: _extension(m, 1), 0x83: lambda m: _extension(m, 2), 0x84: lambda m: _extension(m, 4),
}
# Opcodes without a handler: those that build objects by calling a class (OBJ, NEWOBJ, ...) are refused
# as unsafe; those pickle.dump never writes to a file make it unreadable.
_OPCODE_NAMES = {ord(op.code): op.name for op in pickletools.opcodes}
_NOT_WRITTEN = {"PERSID": "a persistent id, which pickle.dump never writes",
                "BINPERSID": "a persistent id, which pickle.dump never writes",
                "NEXT_BUFFER": "an out-of-band buffer, which a file cannot carry",
                "READONLY_BUFFER": "an out-of-band buffer, which a file cannot carry"}
