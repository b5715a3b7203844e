//! uid_map / gid_map for a new user namespace, written by the parent
//! (the init cannot map itself to ids it does not hold).

use crate::error::{Context, Result};
use oci_spec::runtime::LinuxIdMapping;

fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn write_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    if !uid.is_empty() {
        std::fs::write(format!("/proc/{pid}/uid_map"), format_map(uid)).ctx("write uid_map")?;
    }
    if !gid.is_empty() {
        std::fs::write(format!("/proc/{pid}/gid_map"), format_map(gid)).ctx("write gid_map")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines() {
        let m: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#).unwrap();
        assert_eq!(format_map(&m), "0 1000 1\n1 100000 65536\n");
    }
}
