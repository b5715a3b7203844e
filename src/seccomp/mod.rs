//! Placeholder until the seccomp compiler lands: refuse rather than run a
//! container without the filter it asked for.
use oci_spec::runtime::LinuxSeccomp;

pub struct SeccompProgram;
#[derive(Debug)]
pub struct SeccompError(String);
impl std::fmt::Display for SeccompError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
pub fn compile(_cfg: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    Err(SeccompError("linux.seccomp: not supported yet".into()))
}
impl SeccompProgram {
    pub fn install(&self) -> Result<Option<std::os::fd::OwnedFd>, SeccompError> {
        Ok(None)
    }
}
