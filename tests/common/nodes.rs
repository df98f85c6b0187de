//! Black-box cluster nodes for the tests and the bench: a site (folder, addresses) with a
//! `[cluster]` section on given etcd members, started with a test clock.
#![allow(dead_code)]

use super::etcd::EtcdCluster;
use crate::common::backend::http;
use crate::common::site::{ADMIN_TOKEN, Site};
use crate::common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::fs;
use std::time::Duration;

/// The pools and service every node serves (no checks: health is not the point here).
pub const POOLS: &str = "[[pool]]\nname = \"us-east\"\nregion = \"us\"\n[[pool.endpoint]]\nname = \"us-east-a\"\naddresses = [\"192.0.2.10\"]\n\
[[pool]]\nname = \"eu-west\"\nregion = \"eu\"\n[[pool.endpoint]]\nname = \"eu-west-a\"\naddresses = [\"198.51.100.10\"]\n\
[[service]]\nname = \"www.gslb.example.com.\"\ntypes = [\"A\"]\npools = [\"eu-west\", \"us-east\"]\nchain = [\"health\", \"failover\"]\n";

/// One node: its site (folder, addresses), config and process.
pub struct Node {
    pub site: Site,
    pub cfg: std::path::PathBuf,
    pub proc: Option<Ayadns>,
}

impl Node {
    pub fn new(name: &str, etcd: &EtcdCluster, prefix: &str) -> Node {
        Node::with(name, etcd, prefix, "probers = []", POOLS)
    }

    pub fn with(name: &str, etcd: &EtcdCluster, prefix: &str, health: &str, pools: &str) -> Node {
        let site = Site::new();
        let cfg = site.config(health, pools);
        let endpoints: Vec<String> = etcd
            .endpoints()
            .iter()
            .map(|e| format!("\"{e}\""))
            .collect();
        let mut text = fs::read_to_string(&cfg).unwrap();
        text.push_str(&format!(
            "[cluster]\nnode = \"{name}\"\netcd = [{}]\nprefix = \"{prefix}\"\nregion = \"eu\"\nlease = \"2s\"\n",
            endpoints.join(", ")
        ));
        fs::write(&cfg, text).unwrap();
        Node {
            site,
            cfg,
            proc: None,
        }
    }

    pub fn start(&mut self) {
        let mut a = Ayadns::start_in(
            self.site.path(),
            &[
                "serve",
                "--config",
                self.cfg.to_str().unwrap(),
                "--test-clock",
                "0s",
            ],
        );
        a.wait_for_dns(self.site.dns, Duration::from_secs(15));
        assert!(wait_for_tcp(self.site.admin, Duration::from_secs(10)));
        self.proc = Some(a);
    }

    pub fn answer(&self) -> String {
        let r = udp(
            self.site.dns,
            &Q::new("www.gslb.example.com.", RecordType::A).message(),
        );
        assert_eq!(r.response_code, ResponseCode::NoError, "never SERVFAIL");
        r.answers
            .first()
            .map(|a| a.data.to_string())
            .unwrap_or_default()
    }

    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        let (code, text) = http(self.site.admin, method, path, Some(ADMIN_TOKEN), body);
        (code, serde_json::from_str(&text).unwrap_or_default())
    }

    pub fn advance(&self, by: &str) {
        let (code, v) = self.api(
            "POST",
            "/api/v1/test/clock",
            Some(&format!("{{\"advance\": \"{by}\"}}")),
        );
        assert_eq!(code, 200, "{v}");
    }

    pub fn log(&self) -> String {
        self.proc.as_ref().map(|p| p.log()).unwrap_or_default()
    }
}

pub fn all(nodes: &[Node], want: &str) -> bool {
    nodes.iter().all(|n| n.answer() == want)
}
