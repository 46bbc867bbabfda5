use std::future::Future;

/// Named checkpoints where a simulator may inject yields or delays (FoundationDB's BUGGIFY
/// idea). The real runtime's checkpoint is an immediately ready future.
pub trait Hooks: Send + Sync + 'static {
    fn checkpoint(&self, at: &'static str) -> impl Future<Output = ()> + Send;
}
