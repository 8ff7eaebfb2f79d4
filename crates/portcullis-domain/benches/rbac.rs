//! The RBAC decision for a user holding 5 roles, on an automation with 10,000
//! grants, inside organizations of growing size. Target: median under 2 µs,
//! flat in the number of automations (see docs/benchmarks.md).

// `criterion_main!` defines a public `main` without docs.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use portcullis_domain::*;

fn setup(automations: usize) -> (Principal, Vec<AutomationAcl>) {
    let org = OrgId::new();
    let roles: Vec<RoleRef> = (0..5)
        .map(|i| RoleRef {
            id: RoleId::new(),
            name: format!("role{i}"),
            kind: RoleKind::Custom,
            permissions: FeaturePermissions::member(),
        })
        .collect();
    let principal = Principal {
        user_id: UserId::new(),
        factory_admin: false,
        org: Some(OrgContext { org_id: org, roles: roles.clone() }),
    };
    let acls = (0..automations)
        .map(|i| {
            let mut acl = AutomationAcl::new(org, Visibility::Private);
            // 10,000 grants on the automation under test, a few on the others.
            let n = if i == 0 { 10_000 } else { 10 };
            for k in 0..n {
                let perms = PermSet::of(&[EntityPermission::Traces]);
                if k % 2 == 0 {
                    acl.grant(Subject::User(UserId::new()), perms);
                } else {
                    acl.grant(Subject::Role(RoleId::new()), perms);
                }
            }
            // The caller holds `run` through its last role.
            if i == 0 {
                acl.grant(Subject::Role(roles[4].id), PermSet::of(&[EntityPermission::Run]));
            }
            acl
        })
        .collect();
    (principal, acls)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("rbac_decide_5_roles_10k_grants");
    for automations in [1usize, 1_000, 10_000] {
        let (principal, acls) = setup(automations);
        let target = &acls[0];
        assert!(decide(&principal, Action::Automation(target, AutomationAccess::Run)).is_allowed());
        g.bench_with_input(BenchmarkId::from_parameter(automations), &automations, |b, _| {
            b.iter(|| decide(black_box(&principal), Action::Automation(black_box(target), AutomationAccess::Run)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
