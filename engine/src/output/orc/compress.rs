//! ORC's compression framing: a stream is cut into blocks of a fixed
//! uncompressed size, each stored compressed behind a 3-byte header, or as
//! it is when compressing does not make it smaller.
//!
//! Blocks are cut at fixed uncompressed offsets so a row index position
//! (an uncompressed offset) maps to (block start, offset in block) after the
//! fact, without the encoders knowing about compression.

use std::io::Write;

use orc_rust::proto::CompressionKind;

use crate::output::OrcCompression;

/// A stream after compression, with where each block starts.
#[derive(Debug)]
pub(super) struct Compressed {
    pub bytes: Vec<u8>,
    /// Compressed offset of block `i` (uncompressed bytes `i * block ..`).
    starts: Vec<u64>,
}

/// How a file's streams are compressed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Codec {
    pub kind: OrcCompression,
    /// zlib 0–9 or zstd 1–22.
    pub level: i32,
    pub block: usize,
}

impl Codec {
    pub(super) fn proto_kind(&self) -> CompressionKind {
        match self.kind {
            OrcCompression::None => CompressionKind::None,
            OrcCompression::Zlib => CompressionKind::Zlib,
            OrcCompression::Zstd => CompressionKind::Zstd,
            OrcCompression::Snappy => CompressionKind::Snappy,
        }
    }

    pub(super) fn compress(&self, data: &[u8]) -> std::io::Result<Compressed> {
        if self.kind == OrcCompression::None {
            return Ok(Compressed {
                bytes: data.to_vec(),
                starts: Vec::new(),
            });
        }
        let mut bytes = Vec::with_capacity(data.len() / 2 + 16);
        let mut starts = Vec::with_capacity(data.len().div_ceil(self.block));
        let mut scratch = Vec::new();
        for block in data.chunks(self.block) {
            starts.push(bytes.len() as u64);
            scratch.clear();
            self.compress_block(block, &mut scratch)?;
            let (original, body) = if scratch.len() < block.len() {
                (0, &scratch[..])
            } else {
                (1, block)
            };
            let head = ((body.len() as u32) << 1) | original;
            bytes.extend_from_slice(&head.to_le_bytes()[..3]);
            bytes.extend_from_slice(body);
        }
        Ok(Compressed { bytes, starts })
    }

    fn compress_block(&self, block: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        match self.kind {
            OrcCompression::None => out.extend_from_slice(block),
            // ORC's zlib is raw deflate (Java's `Deflater(level, nowrap)`).
            OrcCompression::Zlib => {
                let level = flate2::Compression::new(self.level.clamp(0, 9) as u32);
                let mut enc = flate2::write::DeflateEncoder::new(std::mem::take(out), level);
                enc.write_all(block)?;
                *out = enc.finish()?;
            }
            OrcCompression::Zstd => {
                *out = zstd::bulk::compress(block, self.level)?;
            }
            OrcCompression::Snappy => {
                *out = snap::raw::Encoder::new()
                    .compress_vec(block)
                    .map_err(std::io::Error::other)?;
            }
        }
        Ok(())
    }
}

impl Compressed {
    /// The row index positions of uncompressed `offset`: (block start,
    /// offset in block), or the offset alone when uncompressed.
    pub(super) fn positions(&self, codec: &Codec, offset: u64, out: &mut Vec<u64>) {
        if codec.kind == OrcCompression::None {
            out.push(offset);
            return;
        }
        let block = codec.block as u64;
        let i = (offset / block) as usize;
        // An offset at the very end (a row group with no values in this
        // stream) points past the last block.
        out.push(
            self.starts
                .get(i)
                .copied()
                .unwrap_or(self.bytes.len() as u64),
        );
        out.push(offset % block);
    }
}
