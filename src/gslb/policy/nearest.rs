//! `nearest` — order pools by great-circle distance from the client.
//!
//! The client's coordinates come from GeoIP: a City database's own coordinates, else the
//! centre of the client's country (an embedded table, see `geoip/country-centroids.csv`).
//! Each pool's coordinates are its `location` (default: its region's). Pools at equal
//! distance keep their order. Without client coordinates (no GeoIP match) the order is kept.
//!
//! No settings. ECS scope: the prefix of the GeoIP network that gave the coordinates.

use super::{Candidates, Compile, Compiled, Ctx, Notes, Step, Word};
use crate::geo::haversine_km;
use std::sync::Arc;

/// The word.
pub const WORD: Word = Word {
    word: "nearest",
    client_dependent: true,
    seeded: false,
    compile,
};

fn compile(_: &mut Compile<'_>) -> Option<Arc<dyn Step>> {
    Some(Compiled::step(WORD.word, (), apply))
}

fn apply(_: &(), ctx: &Ctx<'_>, cands: &mut Candidates, notes: &mut Notes) {
    let coords = ctx.client.location.as_ref().and_then(|l| l.coords);
    notes.depends_on(ctx.client.geo_prefix);
    let Some(from) = coords else {
        notes.why(|| "no client coordinates: order kept".to_string());
        return;
    };
    let pools = &ctx.model.pools;
    let mut keyed: Vec<(f64, _)> = cands
        .0
        .drain(..)
        .map(|pc| (haversine_km(from, pools[pc.pool].coords), pc))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    notes.why(|| {
        let d: Vec<String> = keyed
            .iter()
            .map(|(km, pc)| format!("{} {km:.0} km", pools[pc.pool].name))
            .collect();
        format!("from {:.2},{:.2}: {}", from.0, from.1, d.join(", "))
    });
    cands.0 = keyed.into_iter().map(|(_, pc)| pc).collect();
}

#[cfg(test)]
mod tests {
    use crate::gslb::policy::testing::*;

    #[test]
    fn orders_by_real_distance() {
        let m = model();
        let h = all_up(&m);
        // London is nearer Dublin (eu-west) than Ashburn (us-east), and Ashburn nearer than
        // Singapore (ap-southeast).
        let c = client_at(&m, "eu", (51.5142, -0.0931));
        let out = run_steps(&m, "www", "nearest", &c, &h);
        let order: Vec<&str> = out
            .0
            .iter()
            .map(|p| m.pools[p.pool].name.as_str())
            .collect();
        assert_eq!(order, ["eu-west", "us-east", "ap-southeast"]);
        // Changchun, China: Singapore first, then Dublin (8,300 km) before Ashburn (11,000 km).
        let c = client_at(&m, "ap", (43.88, 125.3228));
        let out = run_steps(&m, "www", "nearest", &c, &h);
        let order: Vec<&str> = out
            .0
            .iter()
            .map(|p| m.pools[p.pool].name.as_str())
            .collect();
        assert_eq!(order, ["ap-southeast", "eu-west", "us-east"]);
    }

    #[test]
    fn without_coordinates_the_order_is_kept() {
        let m = model();
        let out = run_steps(&m, "www", "nearest", &client(&m, "ap"), &all_up(&m));
        let order: Vec<&str> = out
            .0
            .iter()
            .map(|p| m.pools[p.pool].name.as_str())
            .collect();
        assert_eq!(order, ["us-east", "eu-west", "ap-southeast"]);
    }
}
