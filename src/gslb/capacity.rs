//! Capacity arithmetic shared by `ayadns check`, the drill preview and the ops tick that
//! feeds the `capacity` step (the keys are documented in `src/config/capacity.rs`).

use super::Gslb;
use super::admission::ALL;

/// The share of its clients (per mille) a pool of `capacity` queries/s admits under a demand
/// of `demand` queries/s: `min(1, capacity ÷ demand)`.
pub fn admit_permille(capacity: f64, demand: f64) -> u16 {
    if demand <= capacity || demand <= 0.0 {
        return ALL;
    }
    ((capacity / demand) * f64::from(ALL))
        .floor()
        .clamp(0.0, f64::from(ALL)) as u16
}

/// Does a pool of `capacity` hold `headroom ×` a load of `load` queries/s?
pub fn holds(capacity: f64, load: f64, headroom: f64) -> bool {
    capacity >= headroom * load
}

/// `ayadns check`'s rule, offline: for each region, whether losing it leaves the pools of
/// the other regions (their declared capacities summed) `headroom ×` the whole declared
/// demand. One warning per region that breaks it; none without a declared demand.
pub fn region_loss_warnings(g: &Gslb) -> Vec<String> {
    let demand: f64 = g.demand.iter().map(|(_, d)| d).sum();
    if g.demand.is_empty() || demand <= 0.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (r, region) in g.regions.iter().enumerate() {
        let left: f64 = g
            .pools
            .iter()
            .filter(|p| p.region != r)
            .filter_map(|p| p.capacity)
            .sum();
        if !holds(left, demand, g.headroom) {
            out.push(format!(
                "losing region {}: the other regions' pools can serve {left:.0} queries/s, \
                 less than headroom {} × the demand of {demand:.0} queries/s ({:.0})",
                region.name,
                g.headroom,
                g.headroom * demand
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gslb::policy::testing::build;

    #[test]
    fn admission_is_capacity_over_demand() {
        assert_eq!(admit_permille(100.0, 50.0), ALL);
        assert_eq!(admit_permille(100.0, 0.0), ALL);
        assert_eq!(admit_permille(100.0, 400.0), 250);
        assert_eq!(admit_permille(1.0, 1e12), 0);
    }

    #[test]
    fn losing_a_region_is_checked_against_headroom() {
        let base = crate::gslb::policy::testing::CONFIG
            .replace(
                "name = \"us-east\"\nregion = \"us\"",
                "name = \"us-east\"\nregion = \"us\"\ncapacity = 3000",
            )
            .replace(
                "name = \"eu-west\"\nregion = \"eu\"",
                "name = \"eu-west\"\nregion = \"eu\"\ncapacity = 3000",
            )
            .replace(
                "name = \"ap-southeast\"\nregion = \"ap\"",
                "name = \"ap-southeast\"\nregion = \"ap\"\ncapacity = 1000",
            );
        // Demand 2000: losing us or eu leaves 4000 < 1.5 × 2000 = 3000? No: 4000 ≥ 3000.
        let g = build(&format!(
            "{base}\n[capacity]\ndemand = {{ us = 1000, eu = 1000 }}\n"
        ));
        assert!(
            region_loss_warnings(&g).is_empty(),
            "{:?}",
            region_loss_warnings(&g)
        );
        // Demand 3000: losing us (or eu) leaves 4000 < 4500; losing ap leaves 6000 ≥ 4500.
        let g = build(&format!(
            "{base}\n[capacity]\ndemand = {{ us = 1500, eu = 1000, ap = 500 }}\n"
        ));
        let w = region_loss_warnings(&g);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("losing region us: the other regions' pools can serve 4000"));
        assert!(w[1].starts_with("losing region eu:"));
        // A headroom of 1 lets it pass.
        let g = build(&format!(
            "{base}\n[capacity]\nheadroom = 1.0\ndemand = {{ us = 1500, eu = 1000, ap = 500 }}\n"
        ));
        assert!(region_loss_warnings(&g).is_empty());
        // No demand: nothing to check.
        assert!(region_loss_warnings(&build(&base)).is_empty());
    }

    #[test]
    fn bad_capacity_settings_name_their_line() {
        let p = crate::gslb::policy::testing::problems_of(
            "\n[capacity]\nheadroom = 20.0\ndemand = { mars = 10 }\n",
        );
        assert!(
            p.contains("[capacity] headroom 20 is not between 1 and 10"),
            "{p}"
        );
        assert!(
            p.contains("demand names `mars`, which is not a region"),
            "{p}"
        );
        let text = crate::gslb::policy::testing::CONFIG.replace(
            "name = \"ap-southeast\"\nregion = \"ap\"",
            "name = \"ap-southeast\"\nregion = \"ap\"\ncapacity = 0",
        );
        let cfg = crate::config::Config::parse(&text, std::path::Path::new("t.toml"))
            .unwrap()
            .config;
        let zone = crate::zone::load::load_zone_text(
            "$TTL 300\n@ SOA ns1 h 1 3600 600 86400 60\n NS ns1\nns1 A 192.0.2.53\n",
            std::path::Path::new("gslb.example.com.zone"),
            None,
        )
        .unwrap();
        let mut zones = crate::zone::ZoneSet::new(vec![zone]);
        let mut problems = crate::diag::Diagnostics::default();
        crate::gslb::build::build(&cfg, &mut zones, &mut problems);
        let p = problems.to_string();
        assert!(p.contains("capacity 0 is not between 1 and 1e9"), "{p}");
    }
}
