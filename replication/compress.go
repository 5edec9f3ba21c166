package replication

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Checkpoints are compressed with zstd at its default level: on 2 KB of
// game-like state (bench_test.go's gameState) it takes ~20 µs and keeps 48%
// of the bytes; SpeedFastest is no faster on inputs this small and keeps
// 52%, s2 takes ~3 µs but keeps 73%. Raft writes and replicates every byte
// three times over, so the ratio wins.

// maxStateBytes bounds a decompressed checkpoint (hostile or corrupt input).
const maxStateBytes = 64 << 20

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
)

func zstdInit() {
	var err error
	zstdEnc, err = zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder: %v", err)) // only on invalid options
	}
	zstdDec, err = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxStateBytes))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder: %v", err))
	}
}

// compress appends the compressed form of src to dst. EncodeAll is safe for
// concurrent use.
func compress(dst, src []byte) []byte {
	zstdOnce.Do(zstdInit)
	return zstdEnc.EncodeAll(src, dst)
}

// decompress returns the state stored in a checkpoint.
func decompress(src []byte) ([]byte, error) {
	zstdOnce.Do(zstdInit)
	out, err := zstdDec.DecodeAll(src, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress checkpoint: %w", err)
	}
	return out, nil
}
