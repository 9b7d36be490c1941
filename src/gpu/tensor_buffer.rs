//! The storage buffer behind a burn wgpu tensor, reached without a read-back: the tensor's
//! fusion handle is resolved into a `CubeTensor`, made contiguous, and its managed wgpu
//! resource is taken from the compute client. The resource and the tensor are kept alive
//! together so the memory pool does not reuse the buffer while a bind group uses it.

use burn::backend::Wgpu;
use burn::backend::wgpu::{AutoCompiler, CubeBackend, CubeTensor, WgpuResource};
use burn::tensor::Tensor;
use cubecl_runtime::storage::ManagedResource;
use eframe::wgpu;
use thiserror::Error;

/// Why a tensor's buffer could not be reached.
#[derive(Debug, Error)]
pub enum GpuError {
    /// The tensor is not on a wgpu device.
    #[error("the tensor is not on a wgpu device ({0})")]
    NotWgpu(String),
    /// The compute server refused.
    #[error("cannot reach the tensor's wgpu buffer: {0}")]
    Server(String),
    /// The tensor is not f32.
    #[error("the tensor's dtype is {0:?}, the painter needs f32")]
    DType(burn::tensor::DType),
}

/// A float tensor's wgpu storage buffer, held alive.
pub struct GpuTensor {
    resource: ManagedResource<WgpuResource>,
    _tensor: CubeTensor,
    len: usize,
}

impl GpuTensor {
    /// Resolve `tensor` (any rank; autodiff is dropped) to its buffer. Queued work that
    /// produces it is flushed; nothing is copied to the host.
    pub fn from_tensor<const D: usize>(tensor: Tensor<D>) -> Result<Self, GpuError> {
        let len = tensor.shape().num_elements();
        let tensor = tensor.inner();
        let fused = tensor
            .try_into_primitive::<Wgpu>()
            .map_err(|e| GpuError::NotWgpu(format!("{e:?}")))?;
        let client = fused.client.clone();
        let cube: CubeTensor = client.resolve_tensor_float::<CubeBackend>(fused);
        if cube.dtype != burn::tensor::DType::F32 {
            return Err(GpuError::DType(cube.dtype));
        }
        let cube = if cube.is_contiguous() {
            cube
        } else {
            burn_cubecl::kernel::into_contiguous(cube)
        };
        let resource = cube
            .client
            .get_resource::<cubecl_wgpu::WgpuServer<AutoCompiler>>(cube.handle.clone())
            .map_err(|e| GpuError::Server(format!("{e:?}")))?;
        Ok(Self {
            resource,
            _tensor: cube,
            len,
        })
    }

    /// The wgpu buffer (shared with burn).
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.resource.resource().buffer
    }

    /// Where the tensor starts in the buffer, in floats.
    pub fn offset_floats(&self) -> usize {
        (self.resource.resource().offset / 4) as usize
    }

    /// Number of floats in the tensor.
    pub fn len_floats(&self) -> usize {
        self.len
    }
}
