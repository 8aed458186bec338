//! The policy loader on arbitrary YAML: as a classes file, a rules file and a workloads file.
#![no_main]
use dbgov::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Policy::from_pack(&[("classes.yaml", text)], &[], &[]);
    let _ = Policy::from_pack(&[], &[("rules.yaml", text)], &[]);
    let _ = Policy::from_pack(&[], &[], &[("workloads.yaml", text)]);
});
