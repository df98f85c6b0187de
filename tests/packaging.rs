//! The service files in `packaging/`: the systemd unit is checked by `systemd-analyze verify`
//! (where it is installed) and holds what the README promises; the container image is built
//! and run only where a container engine answers. Each skip prints its reason.
mod common;

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(repo().join("packaging/ayadns.service")).unwrap();
    for want in [
        "DynamicUser=yes",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "StateDirectory=ayadns",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ExecStart=/usr/local/bin/ayadns serve --config /etc/ayadns/ayadns.toml",
    ] {
        assert!(unit.contains(want), "the unit lacks {want}");
    }
    let Some(analyze) = common::find_program("systemd-analyze") else {
        eprintln!("SKIPPED systemd-analyze verify: systemd-analyze is not installed");
        return;
    };
    // Verify a copy whose binary is the one under test (verify checks ExecStart exists).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ayadns.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/ayadns", common::Ayadns::bin()),
    )
    .unwrap();
    let out = Command::new(analyze)
        .args(["verify", copy.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Lines about other units of this machine are not ours to judge.
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("ayadns")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {err}"
    );
    // A broken unit is caught: the check can fail.
    std::fs::write(
        &copy,
        unit.replace("[Service]", "[Service]\nNoSuchOption=1"),
    )
    .unwrap();
    let out = Command::new(common::find_program("systemd-analyze").unwrap())
        .args(["verify", copy.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NoSuchOption"), "{err}");
}

#[test]
fn the_container_image_builds_and_answers_where_an_engine_runs() {
    let dockerfile = std::fs::read_to_string(repo().join("packaging/Dockerfile")).unwrap();
    assert!(dockerfile.contains("AS build") && dockerfile.contains("USER 65532"));
    let engine = ["docker", "podman"].into_iter().find(|e| {
        Command::new(e)
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(engine) = engine else {
        eprintln!("SKIPPED container image build: no container engine answers `info` here");
        return;
    };
    let tag = "ayadns-test:latest";
    let out = Command::new(engine)
        .args(["build", "-f", "packaging/Dockerfile", "-t", tag, "."])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{engine} build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(engine)
        .args(["run", "--rm", "--entrypoint", "/usr/local/bin/ayadns", tag])
        .args(["check", "--config", "/etc/ayadns/ayadns.toml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(engine)
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "/usr/local/bin/ayadns",
            tag,
            "--version",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}
