//! Decoding ONNX `TensorProto` constants (initializers, Constant nodes) into plain vectors.

use super::generated::{tensor_proto::DataType, TensorProto};

/// The data of a constant tensor.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum ConstData {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// A constant tensor: dims and data, with `dims.product() == data.len()`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ConstTensor {
    pub dims: Vec<usize>,
    pub data: ConstData,
}

impl ConstTensor {
    /// Number of elements.
    pub(super) fn len(&self) -> usize {
        match &self.data {
            ConstData::F32(v) => v.len(),
            ConstData::I64(v) => v.len(),
        }
    }

    /// Whether it has no elements.
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as f32 (integers converted).
    pub(super) fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            ConstData::F32(v) => v.clone(),
            ConstData::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The values as i64, or `None` for float data.
    pub(super) fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            ConstData::I64(v) => Some(v),
            ConstData::F32(_) => None,
        }
    }
}

/// Decodes a tensor whose raw bytes are `external` when it is stored outside the model file
/// (see [`super::external`]); the error string says what is wrong (the caller adds file and
/// name).
pub(super) fn decode(t: &TensorProto, external: Option<&[u8]>) -> Result<ConstTensor, String> {
    if external.is_none() && (t.data_location == Some(1) || !t.external_data.is_empty()) {
        return Err("external data is supported for initializers only".into());
    }
    if t.segment.is_some() {
        return Err("segmented tensors are not supported".into());
    }
    let mut dims = Vec::with_capacity(t.dims.len());
    let mut count: usize = 1;
    for &d in &t.dims {
        let d =
            usize::try_from(d).map_err(|_| format!("negative dimension {d} in {:?}", t.dims))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| format!("dimensions {:?} overflow", t.dims))?;
        dims.push(d);
    }
    let raw = external.or(t.raw_data.as_deref());
    let dtype = t.data_type.unwrap_or(0);
    let data = match DataType::try_from(dtype) {
        Ok(DataType::Float) => ConstData::F32(match raw {
            Some(bytes) => le_chunks::<4>(bytes, count)?
                .map(f32::from_le_bytes)
                .collect(),
            None => t.float_data.clone(),
        }),
        Ok(DataType::Double) => ConstData::F32(match raw {
            Some(bytes) => le_chunks::<8>(bytes, count)?
                .map(|b| f64::from_le_bytes(b) as f32)
                .collect(),
            None => t.double_data.iter().map(|&x| x as f32).collect(),
        }),
        Ok(DataType::Int64) => ConstData::I64(match raw {
            Some(bytes) => le_chunks::<8>(bytes, count)?
                .map(i64::from_le_bytes)
                .collect(),
            None => t.int64_data.clone(),
        }),
        Ok(DataType::Int32) => ConstData::I64(match raw {
            Some(bytes) => le_chunks::<4>(bytes, count)?
                .map(|b| i32::from_le_bytes(b) as i64)
                .collect(),
            None => t.int32_data.iter().map(|&x| x as i64).collect(),
        }),
        Ok(other) => {
            return Err(format!(
                "data type {} is not supported (expected FLOAT, DOUBLE, INT64 or INT32)",
                other.as_str_name()
            ))
        }
        Err(_) => return Err(format!("unknown data type {dtype}")),
    };
    let tensor = ConstTensor { dims, data };
    if tensor.len() != count {
        return Err(format!(
            "has {} values, expected {count} for dims {:?}",
            tensor.len(),
            t.dims
        ));
    }
    Ok(tensor)
}

/// Splits little-endian raw bytes into `count` chunks of `N` bytes, checking the length.
fn le_chunks<const N: usize>(
    bytes: &[u8],
    count: usize,
) -> Result<impl Iterator<Item = [u8; N]> + '_, String> {
    let expected = count.checked_mul(N).ok_or("raw data size overflows")?;
    if bytes.len() != expected {
        return Err(format!(
            "raw data has {} bytes, expected {expected}",
            bytes.len()
        ));
    }
    Ok(bytes.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    }))
}
