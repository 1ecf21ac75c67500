//! Minimal `.npy` (NumPy format 1.0-3.0) reading and writing for little-endian `f32` and `u8`
//! arrays in C order; little-endian `f64` (NumPy's default) is read too, rounded to `f32` (the
//! precision every model here computes in). Malformed files give an error naming the problem,
//! never a panic.

use std::path::Path;

/// The element data of an `.npy` array.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    /// Little-endian `f32`.
    F32(Vec<f32>),
    /// Bytes.
    U8(Vec<u8>),
    /// Little-endian `i64` (NumPy's default integers; `<i4` is widened), e.g. labels.
    I64(Vec<i64>),
}

/// An `.npy` array: shape and data.
#[derive(Clone, Debug, PartialEq)]
pub struct Npy {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// The elements in C order.
    pub data: NpyData,
}

impl Npy {
    /// The data as f32 (bytes converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            NpyData::F32(v) => v.clone(),
            NpyData::U8(v) => v.iter().map(|&b| b as f32).collect(),
            NpyData::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}

/// Why an `.npy` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not an `.npy` file this reader supports.
    #[error("{path}: not a supported .npy file: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// Reads an `.npy` file.
pub fn read_npy(path: &Path) -> Result<Npy, NpyError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: name.clone(),
        source,
    })?;
    parse_npy(&bytes).map_err(|detail| NpyError::Format { path: name, detail })
}

/// Parses `.npy` bytes.
pub fn parse_npy(bytes: &[u8]) -> Result<Npy, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported format version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = field(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"');
    if field(header, "fortran_order").map(str::trim) != Some("False") {
        return Err("only C order (fortran_order False) is supported".into());
    }
    let shape_text = header
        .split_once("'shape':")
        .and_then(|(_, rest)| {
            rest.split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(s, _)| s)
        })
        .ok_or("header has no 'shape' tuple")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension '{s}'"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    let body = &bytes[start + header_len..];
    let values = |width: usize| -> Result<_, String> {
        if Some(body.len()) != count.checked_mul(width) {
            return Err(format!(
                "data has {} bytes, expected {width} x {count} for shape {shape:?} of {descr}",
                body.len()
            ));
        }
        Ok(body.chunks_exact(width).map(move |c| {
            let mut b = [0u8; 8];
            b[..width].copy_from_slice(c);
            b
        }))
    };
    let low4 = |b: [u8; 8]| [b[0], b[1], b[2], b[3]];
    let data = match descr {
        "<f4" => NpyData::F32(values(4)?.map(|b| f32::from_le_bytes(low4(b))).collect()),
        "<f8" => NpyData::F32(values(8)?.map(|b| f64::from_le_bytes(b) as f32).collect()),
        "<i8" => NpyData::I64(values(8)?.map(i64::from_le_bytes).collect()),
        "<i4" => NpyData::I64(
            values(4)?
                .map(|b| i64::from(i32::from_le_bytes(low4(b))))
                .collect(),
        ),
        "|u1" | "<u1" => {
            if body.len() != count {
                return Err(format!(
                    "data has {} bytes, expected {count} for shape {shape:?} of u1",
                    body.len()
                ));
            }
            NpyData::U8(body.to_vec())
        }
        other => {
            return Err(format!(
                "dtype '{other}' is not supported (expected '<f4', '<f8', '|u1', '<i8' or '<i4')"
            ))
        }
    };
    Ok(Npy { shape, data })
}

/// The raw text of `'key': value` in a header dict (up to the next comma outside brackets).
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let rest = header.split_once(&format!("'{key}':"))?.1;
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Encodes an array as `.npy` (format 1.0).
pub fn encode_npy(npy: &Npy) -> Vec<u8> {
    let descr = match npy.data {
        NpyData::F32(_) => "<f4",
        NpyData::U8(_) => "|u1",
        NpyData::I64(_) => "<i8",
    };
    let dims: Vec<String> = npy.shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match &npy.data {
        NpyData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        NpyData::U8(v) => out.extend_from_slice(v),
        NpyData::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let a = Npy {
            shape: vec![2, 3],
            data: NpyData::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]),
        };
        let bytes = encode_npy(&a);
        assert_eq!(parse_npy(&bytes).unwrap(), a);
        for cut in 0..bytes.len() {
            assert!(parse_npy(&bytes[..cut]).is_err());
        }
        let b = Npy {
            shape: vec![4],
            data: NpyData::U8(vec![1, 2, 3, 4]),
        };
        assert_eq!(parse_npy(&encode_npy(&b)).unwrap(), b);
        let c = Npy {
            shape: vec![2],
            data: NpyData::I64(vec![-1, 1 << 40]),
        };
        assert_eq!(parse_npy(&encode_npy(&c)).unwrap(), c);
    }

    #[test]
    fn float64_is_read_as_float32() {
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        for v in [0.5f64, -2.25, 1e-3] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let npy = parse_npy(&bytes).unwrap();
        assert_eq!(npy.shape, vec![3]);
        assert_eq!(npy.data, NpyData::F32(vec![0.5, -2.25, 1e-3]));
        let short = &bytes[..bytes.len() - 1];
        assert!(parse_npy(short).unwrap_err().contains("8 x 3"));
    }
}
