package tokenizer

import (
	"errors"
	"fmt"
	"math"
)

// The subset of sentencepiece_model.proto that encoding and decoding need,
// read with a small hand-written protobuf wire decoder.

// Piece types of ModelProto.SentencePiece.Type.
const (
	spmNormal      = 1
	spmUnknown     = 2
	spmControl     = 3
	spmUserDefined = 4
	spmUnused      = 5
	spmByte        = 6
)

// Model types of TrainerSpec.ModelType.
const (
	spmUnigram = 1
	spmBPE     = 2
	spmWord    = 3
	spmChar    = 4
)

type spmPiece struct {
	piece string
	score float32
	typ   int
}

type spmTrainerSpec struct {
	modelType                int
	byteFallback             bool
	treatWhitespaceAsSuffix  bool
	unkID, bosID, eosID, pad int
	unkSurface               string
	hasUnkSurface            bool
}

type spmNormalizerSpec struct {
	name                   string
	charsmap               []byte
	addDummyPrefix         bool
	removeExtraWhitespaces bool
	escapeWhitespaces      bool
}

type spmModelProto struct {
	pieces     []spmPiece
	trainer    spmTrainerSpec
	normalizer spmNormalizerSpec
	denorm     *spmNormalizerSpec
}

var errTruncated = errors.New("truncated protobuf")

// wire is a cursor over protobuf bytes.
type wire struct {
	b []byte
	i int
}

func (w *wire) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if w.i >= len(w.b) {
			return 0, errTruncated
		}
		c := w.b[w.i]
		w.i++
		v |= uint64(c&0x7F) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint overflows 64 bits")
}

// field reads the next tag: field number and wire type.
func (w *wire) field() (int, int, error) {
	tag, err := w.varint()
	if err != nil {
		return 0, 0, err
	}
	num, typ := int(tag>>3), int(tag&7)
	if num <= 0 {
		return 0, 0, fmt.Errorf("invalid field number %d", num)
	}
	return num, typ, nil
}

func (w *wire) bytes() ([]byte, error) {
	n, err := w.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(w.b)-w.i) {
		return nil, errTruncated
	}
	out := w.b[w.i : w.i+int(n)]
	w.i += int(n)
	return out, nil
}

func (w *wire) fixed32() (uint32, error) {
	if len(w.b)-w.i < 4 {
		return 0, errTruncated
	}
	b := w.b[w.i:]
	w.i += 4
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, nil
}

// bytesField reads a length-delimited field (wire type 2) whose number
// and wire type field returned.
func (w *wire) bytesField(num, typ int) ([]byte, error) {
	if err := expect(num, typ, 2); err != nil {
		return nil, err
	}
	return w.bytes()
}

// fixed32Field reads a fixed32 field (wire type 5).
func (w *wire) fixed32Field(num, typ int) (uint32, error) {
	if err := expect(num, typ, 5); err != nil {
		return 0, err
	}
	return w.fixed32()
}

// varintField reads a varint field (wire type 0).
func (w *wire) varintField(num, typ int) (uint64, error) {
	if err := expect(num, typ, 0); err != nil {
		return 0, err
	}
	return w.varint()
}

// fields calls f with the number and wire type of every field of the
// message, in order, stopping at the first error.
func (w *wire) fields(f func(num, typ int) error) error {
	for w.i < len(w.b) {
		num, typ, err := w.field()
		if err != nil {
			return err
		}
		if err := f(num, typ); err != nil {
			return err
		}
	}
	return nil
}

// skip skips a field of the given wire type.
func (w *wire) skip(typ int, depth int) error {
	switch typ {
	case 0:
		_, err := w.varint()
		return err
	case 1:
		if len(w.b)-w.i < 8 {
			return errTruncated
		}
		w.i += 8
		return nil
	case 2:
		_, err := w.bytes()
		return err
	case 3: // start group: skip to the matching end group
		if depth > 32 {
			return errors.New("groups nested too deeply")
		}
		for {
			if w.i >= len(w.b) {
				return errTruncated
			}
			_, t, err := w.field()
			if err != nil {
				return err
			}
			if t == 4 {
				return nil
			}
			if err := w.skip(t, depth+1); err != nil {
				return err
			}
		}
	case 5:
		_, err := w.fixed32()
		return err
	}
	return fmt.Errorf("invalid wire type %d", typ)
}

// expect checks the wire type of a known field.
func expect(field, got, want int) error {
	if got != want {
		return fmt.Errorf("field %d has wire type %d, want %d", field, got, want)
	}
	return nil
}

func parseModelProto(b []byte) (*spmModelProto, error) {
	m := &spmModelProto{
		trainer: spmTrainerSpec{modelType: spmUnigram, unkID: 0, bosID: 1, eosID: 2, pad: -1, unkSurface: " \u2047 "},
		normalizer: spmNormalizerSpec{addDummyPrefix: true, removeExtraWhitespaces: true,
			escapeWhitespaces: true},
	}
	w := &wire{b: b}
	for w.i < len(w.b) {
		num, typ, err := w.field()
		if err != nil {
			return nil, err
		}
		switch num {
		case 1, 2, 3, 5:
			sub, err := w.bytesField(num, typ)
			if err != nil {
				return nil, err
			}
			switch num {
			case 1:
				p, err := parsePiece(sub)
				if err != nil {
					return nil, fmt.Errorf("piece %d: %w", len(m.pieces), err)
				}
				m.pieces = append(m.pieces, p)
			case 2:
				if err := parseTrainerSpec(sub, &m.trainer); err != nil {
					return nil, fmt.Errorf("trainer_spec: %w", err)
				}
			case 3:
				if err := parseNormalizerSpec(sub, &m.normalizer); err != nil {
					return nil, fmt.Errorf("normalizer_spec: %w", err)
				}
			case 5:
				d := spmNormalizerSpec{addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true}
				if err := parseNormalizerSpec(sub, &d); err != nil {
					return nil, fmt.Errorf("denormalizer_spec: %w", err)
				}
				m.denorm = &d
			}
		default:
			if err := w.skip(typ, 0); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func parsePiece(b []byte) (spmPiece, error) {
	p := spmPiece{typ: spmNormal}
	w := &wire{b: b}
	for w.i < len(w.b) {
		num, typ, err := w.field()
		if err != nil {
			return p, err
		}
		switch num {
		case 1:
			s, err := w.bytesField(num, typ)
			if err != nil {
				return p, err
			}
			p.piece = string(s)
		case 2:
			v, err := w.fixed32Field(num, typ)
			if err != nil {
				return p, err
			}
			p.score = math.Float32frombits(v)
		case 3:
			v, err := w.varintField(num, typ)
			if err != nil {
				return p, err
			}
			p.typ = int(v)
		default:
			if err := w.skip(typ, 0); err != nil {
				return p, err
			}
		}
	}
	return p, nil
}

func parseTrainerSpec(b []byte, t *spmTrainerSpec) error {
	w := &wire{b: b}
	return w.fields(func(num, typ int) error {
		switch num {
		case 3, 24, 35, 40, 41, 42, 43:
			v, err := w.varintField(num, typ)
			if err != nil {
				return err
			}
			switch num {
			case 3:
				t.modelType = int(v)
			case 24:
				t.treatWhitespaceAsSuffix = v != 0
			case 35:
				t.byteFallback = v != 0
			case 40:
				t.unkID = int(int32(v))
			case 41:
				t.bosID = int(int32(v))
			case 42:
				t.eosID = int(int32(v))
			case 43:
				t.pad = int(int32(v))
			}
		case 44:
			s, err := w.bytesField(num, typ)
			if err != nil {
				return err
			}
			t.unkSurface, t.hasUnkSurface = string(s), true
		default:
			if err := w.skip(typ, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

func parseNormalizerSpec(b []byte, n *spmNormalizerSpec) error {
	w := &wire{b: b}
	return w.fields(func(num, typ int) error {
		switch num {
		case 1, 2:
			s, err := w.bytesField(num, typ)
			if err != nil {
				return err
			}
			if num == 1 {
				n.name = string(s)
			} else {
				n.charsmap = s
			}
		case 3, 4, 5:
			v, err := w.varintField(num, typ)
			if err != nil {
				return err
			}
			switch num {
			case 3:
				n.addDummyPrefix = v != 0
			case 4:
				n.removeExtraWhitespaces = v != 0
			case 5:
				n.escapeWhitespaces = v != 0
			}
		default:
			if err := w.skip(typ, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

// Encoding, used by tests to build small models.

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendTag(b []byte, num, typ int) []byte { return appendVarint(b, uint64(num)<<3|uint64(typ)) }

func appendBytesField(b []byte, num int, v []byte) []byte {
	b = appendTag(b, num, 2)
	b = appendVarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendVarintField(b []byte, num int, v uint64) []byte {
	return appendVarint(appendTag(b, num, 0), v)
}

// marshal serializes m (the fields this package reads).
func (m *spmModelProto) marshal() []byte {
	var out []byte
	for _, p := range m.pieces {
		var pb []byte
		pb = appendBytesField(pb, 1, []byte(p.piece))
		pb = appendTag(pb, 2, 5)
		v := math.Float32bits(p.score)
		pb = append(pb, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
		pb = appendVarintField(pb, 3, uint64(p.typ))
		out = appendBytesField(out, 1, pb)
	}
	var tb []byte
	tb = appendVarintField(tb, 3, uint64(m.trainer.modelType))
	if m.trainer.treatWhitespaceAsSuffix {
		tb = appendVarintField(tb, 24, 1)
	}
	if m.trainer.byteFallback {
		tb = appendVarintField(tb, 35, 1)
	}
	tb = appendVarintField(tb, 40, uint64(int64(m.trainer.unkID)))
	tb = appendVarintField(tb, 41, uint64(int64(m.trainer.bosID)))
	tb = appendVarintField(tb, 42, uint64(int64(m.trainer.eosID)))
	tb = appendVarintField(tb, 43, uint64(int64(m.trainer.pad)))
	out = appendBytesField(out, 2, tb)
	ns := func(n spmNormalizerSpec) []byte {
		var nb []byte
		nb = appendBytesField(nb, 1, []byte(n.name))
		if len(n.charsmap) > 0 {
			nb = appendBytesField(nb, 2, n.charsmap)
		}
		b2u := func(b bool) uint64 {
			if b {
				return 1
			}
			return 0
		}
		nb = appendVarintField(nb, 3, b2u(n.addDummyPrefix))
		nb = appendVarintField(nb, 4, b2u(n.removeExtraWhitespaces))
		nb = appendVarintField(nb, 5, b2u(n.escapeWhitespaces))
		return nb
	}
	out = appendBytesField(out, 3, ns(m.normalizer))
	return out
}
