//! The compose file parses: Debian's docker-compose validates it without a Docker engine.
//! `.ci/run` installs docker-compose, so a missing one fails here rather than skipping.

use std::process::Command;

#[test]
fn compose_file_validates_and_names_every_service() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("docker-compose")
        .args(["-f", "docker/compose.yml", "config"])
        .current_dir(&repo)
        .output()
        .expect(
            "docker-compose is not installed: `sudo apt-get install docker-compose` (.ci/run does)",
        );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for service in [
        "redis-n1",
        "redis-n5",
        "redis-resource",
        "toxiproxy",
        "fencepost",
    ] {
        assert!(
            text.contains(&format!("  {service}:")),
            "service {service} missing:\n{text}"
        );
    }
    // The topology the container uses parses as an external topology.
    fencepost::external::ExternalTopology::load(&repo.join("docker/topology.toml")).unwrap();
}
