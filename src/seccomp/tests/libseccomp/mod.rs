//! Differential test: rt's compiler against libseccomp, which runc, crun and
//! youki hand OCI profiles to. A small C helper (export.c, compiled here
//! with `cc -lseccomp`; Debian's libseccomp-dev) translates the profile
//! as runc 1.1 does and exports libseccomp's BPF (helper.rs). Both programs
//! run in the same classic-BPF interpreter on random (arch, nr, args)
//! inputs; runc's -ENOSYS stub, which runc puts in front of libseccomp's
//! program, is applied to libseccomp's answer as runc's stub would
//! (runc.rs). Inputs and generated profiles: generate.rs.
//!
//! Deliberate deviations, kept out of the comparison (and why):
//! 1. Syscalls libseccomp 2.5 has never heard of (newer than its tables,
//!    e.g. `mseal`): runc ignores such a rule, rt filters the syscall. The
//!    profile both compile is stripped of those names.
//! 2. Architectures of other CPUs (`SCMP_ARCH_AARCH64`, …): libseccomp adds
//!    a section an x86_64 kernel can never enter, since the kernel never
//!    reports that AUDIT_ARCH; rt leaves it out. Not given to libseccomp;
//!    their arch values still get libseccomp's bad-arch KILL from both.
//! 3. Conditional rules of one syscall with different actions, where one
//!    call can match several of them: libseccomp's answer follows its
//!    internal argument tree (lower argument indexes first, whatever the
//!    config order), rt takes the first matching rule in config order. The
//!    OCI spec does not say; neither Docker's nor Podman's profile has such
//!    overlaps. Generated profiles never give one syscall (or one i386
//!    multiplexer and the calls it carries) two conditional actions.
//! 4. The -ENOSYS stub on i386: runc's stub ignores socket and IPC calls
//!    (libseccomp names them by pseudo numbers), so when their direct
//!    syscall or their multiplexer (socketcall 102, ipc 117) is above the
//!    highest other number a profile names, runc answers it ENOSYS in spite
//!    of the rules libseccomp has for it; rt never stubs a syscall the
//!    profile has rules for. The stub here is runc's with that fixed.
//! 5. Names that are no syscall anywhere: rt refuses them, runc ignores
//!    them (`errors.rs` tests the refusal). Not generated.
//!
//! And three bugs of libseccomp 2.5.4, where rt is right. The inputs the
//! first two touch are recognised and left out, counted; for the third,
//! libseccomp is asked about each rule alone (`rule_by_rule`):
//! * With x86_64 and x32 in one filter, a rule on a name x86_64 lacks
//!   (`_llseek`, `chown32`) and only conditional x86_64 rules, the
//!   AUDIT_ARCH_X86_64 block compares the arch value with syscall numbers
//!   (its `ld [0]` is missing), so every x86_64 and x32 rule is skipped
//!   and the default action decides (`missing_number_load`).
//! * Where two argument checks of one syscall share a tail, that tail can
//!   be reached with different words in the accumulator, e.g. `arg0 > 3`
//!   tested on arg1, or the high word of a 64-bit compare tested on the
//!   low word (`ambiguous_jumps`; rt's programs are checked to have none).
//! * Merging the rules of one syscall into its tree can lose a rule (seen
//!   with a rule runc splits for a repeated argument index next to another
//!   rule of the same action).

mod generate;
mod helper;
mod runc;

use std::collections::HashMap;
use std::time::Instant;

use oci_spec::runtime::LinuxSeccomp;
use serde_json::Value;

use self::generate::{Interesting, generated_profile, seed};
use self::helper::{libseccomp_numbers, libseccomp_program, without_names_unknown_to_libseccomp};
use self::runc::{
    Verdict, ambiguous_jumps, missing_number_load, rule_by_rule, runc_decision, runc_stub,
};
use super::interp;
use super::*;
use crate::fuzzing::Rng;
use crate::seccomp::syscalls::{self, Abi, Syscall};

const PODMAN_DEFAULT: &str = include_str!("../../testdata/podman-default-amd64.json");
const ABIS: [Abi; 3] = [Abi::X86_64, Abi::I386, Abi::X32];

/// How the inputs of one comparison went.
#[derive(Debug, Default)]
struct Tally {
    /// Inputs where rt agreed with runc's filter.
    agreed: usize,
    /// Of those, inputs where libseccomp's whole program dropped a rule
    /// and rt agreed with libseccomp rule by rule instead.
    rule_by_rule: usize,
    /// Inputs left out for libseccomp's code generation bugs.
    skipped: usize,
}

/// Both compilers on `inputs` random inputs for `profile`; panics listing
/// the first disagreements.
fn compare(what: &str, profile: &Value, inputs: usize, rng: &mut Rng) -> Tally {
    let (profile, dropped) = without_names_unknown_to_libseccomp(profile);
    let cfg: LinuxSeccomp = serde_json::from_value(profile.clone())
        .unwrap_or_else(|e| panic!("{what}: profile does not parse: {e}"));
    let ours = compile(&cfg).unwrap_or_else(|e| panic!("{what}: rt refuses: {e}\n{profile}"));
    let theirs = libseccomp_program(&cfg);
    let stub = runc_stub(&cfg);
    let interesting = Interesting::of(&cfg);
    let broken = missing_number_load(&theirs);
    let suspect = ambiguous_jumps(&theirs);
    assert!(
        !ambiguous_jumps(ours.instructions()).contains(&true),
        "{what}: rt's program has a jump with an ambiguous accumulator"
    );
    let mut single_rules = HashMap::new();
    let mut bad = Vec::new();
    let mut tally = Tally::default();
    for _ in 0..inputs {
        let d = interesting.input(rng);
        if broken.contains(&d.arch) {
            tally.skipped += 1;
            continue;
        }
        let mut unreliable = false;
        let want = runc_decision(&stub, &theirs, &d, |pc| unreliable |= suspect[pc]);
        if unreliable {
            tally.skipped += 1;
            continue;
        }
        let got = interp::run(ours.instructions(), &d);
        if got == want {
            tally.agreed += 1;
            continue;
        }
        match rule_by_rule(&cfg, &stub, &d, &mut single_rules) {
            Some(Verdict::Decided(v)) if v == got => {
                tally.agreed += 1;
                tally.rule_by_rule += 1;
            }
            Some(Verdict::Unreliable) => tally.skipped += 1,
            other => bad.push(format!(
                "arch {:#x} nr {:#x} args {:x?}: rt {got:#x}, runc/libseccomp {want:#x} \
                 (rule by rule: {other:x?})",
                d.arch, d.nr, d.args
            )),
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {inputs} decisions differ (names dropped: {dropped:?}, stub {stub:?}):\n{}\nprofile: {profile}",
        bad.len(),
        bad.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
    );
    tally
}

/// Every number rt's tables give equals libseccomp's, apart from names
/// libseccomp does not know (deviation 1) and i386's socket and IPC calls,
/// which libseccomp names by their multiplexer (its rules reach both).
#[test]
fn syscall_tables_match_libseccomp() {
    let numbers = libseccomp_numbers();
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for name in syscalls::all_names() {
        let theirs = numbers[name];
        if theirs[0] == -1 {
            unknown.push(name);
            continue;
        }
        for (i, abi) in [Abi::X86_64, Abi::I386, Abi::X32].into_iter().enumerate() {
            let ours = Syscall::lookup(name).and_then(|s| s.nr(abi));
            let muxed = abi == Abi::I386 && syscalls::i386_multiplexed(name).is_some();
            let agree = match (ours, theirs[i]) {
                (_, t) if muxed => (-224..=-100).contains(&t),
                (Some(o), t) => i64::from(o) == t,
                (None, t) => t < 0,
            };
            if !agree {
                wrong.push(format!(
                    "{name} on {abi:?}: rt {ours:?}, libseccomp {}",
                    theirs[i]
                ));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "numbers differ:\n{}", wrong.join("\n"));
    println!(
        "syscall tables: {checked} numbers equal libseccomp's; unknown to libseccomp: {unknown:?}"
    );
    // Only syscalls newer than libseccomp 2.5.4 (numbers from 450 on, and
    // uprobe/uretprobe of Linux 6.11, which took free x86_64 numbers) and
    // names of other CPUs may be missing from it.
    for name in &unknown {
        let syscall = Syscall::lookup(name);
        let x86 = ABIS.map(|abi| syscall.as_ref().and_then(|s| s.nr(abi)));
        let newer = x86[0].is_some_and(|n| n >= 450) || ["uprobe", "uretprobe"].contains(name);
        assert!(
            newer || x86 == [None; 3],
            "{name} is unknown to libseccomp but neither new nor of another CPU"
        );
    }
}

#[test]
fn docker_default_profile_decides_as_libseccomp() {
    let mut rng = Rng::new(seed());
    let profile: Value = serde_json::from_str(super::docker::DOCKER_DEFAULT).unwrap();
    let start = Instant::now();
    let tally = compare("docker default", &profile, 100_000, &mut rng);
    println!(
        "docker default: {tally:?} of 100000 inputs ({:?})",
        start.elapsed()
    );
    // No libseccomp bug touches this profile: rt agrees with libseccomp's
    // whole program on every input.
    assert_eq!((tally.agreed, tally.rule_by_rule), (100_000, 0));
}

#[test]
fn podman_default_profile_decides_as_libseccomp() {
    let mut rng = Rng::new(seed());
    let profile: Value = serde_json::from_str(PODMAN_DEFAULT).unwrap();
    let start = Instant::now();
    let tally = compare("podman default", &profile, 100_000, &mut rng);
    println!(
        "podman default: {tally:?} of 100000 inputs ({:?})",
        start.elapsed()
    );
    // No libseccomp bug touches this profile: rt agrees with libseccomp's
    // whole program on every input.
    assert_eq!((tally.agreed, tally.rule_by_rule), (100_000, 0));
}

#[test]
fn generated_profiles_decide_as_libseccomp() {
    let mut rng = Rng::new(seed());
    let start = Instant::now();
    // RT_SECCOMP_DIFF_PROFILES: more profiles for a longer run by hand.
    let profiles = std::env::var("RT_SECCOMP_DIFF_PROFILES")
        .map(|n| n.parse().expect("RT_SECCOMP_DIFF_PROFILES: a number"))
        .unwrap_or(250);
    let per_profile = 500;
    let mut total = Tally::default();
    for i in 0..profiles {
        let profile = generated_profile(&mut rng);
        let t = compare(
            &format!("generated profile {i}"),
            &profile,
            per_profile,
            &mut rng,
        );
        total.agreed += t.agreed;
        total.rule_by_rule += t.rule_by_rule;
        total.skipped += t.skipped;
    }
    println!(
        "generated: {profiles} profiles, {} inputs: {total:?} ({:?})",
        profiles * per_profile,
        start.elapsed()
    );
    let inputs = total.agreed;
    assert!(
        inputs >= profiles * per_profile * 9 / 10,
        "only {inputs} inputs compared"
    );
}
