//! Whole-file tests of the front end: every instruction, heredoc forms,
//! the escape directive, error positions, and a no-panic fuzz pass.

use super::ast::*;
use super::parse;

fn df(src: &str) -> Dockerfile {
    parse(src, "Dockerfile").unwrap_or_else(|e| panic!("parse failed: {e}"))
}

/// The instructions of the only stage, after `FROM scratch`.
fn body(src: &str) -> Vec<Kind> {
    let d = df(&format!("FROM scratch\n{src}"));
    d.stages[0]
        .instructions
        .iter()
        .map(|i| i.kind.clone())
        .collect()
}

fn one(src: &str) -> Kind {
    let mut k = body(src);
    assert_eq!(k.len(), 1, "{k:?}");
    k.remove(0)
}

fn error(src: &str) -> super::DockerfileError {
    match parse(src, "Dockerfile") {
        Ok(d) => panic!("expected an error, got {d:?}"),
        Err(e) => e,
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: v.into(),
    }
}

mod instructions {
    use super::*;

    #[test]
    fn from_forms() {
        let d = df(
            "FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nFROM build\nfrom alpine@sha256:abc as final\n",
        );
        assert_eq!(d.stages.len(), 3);
        assert_eq!(
            d.stages[0].from,
            From {
                image: "golang:1.22".into(),
                platform: Some("$BUILDPLATFORM".into()),
                alias: Some("build".into()),
            }
        );
        assert_eq!(d.stages[0].name.as_deref(), Some("build"));
        assert_eq!(d.stages[1].name, None);
        assert_eq!(d.stages[2].name.as_deref(), Some("final"));
        assert_eq!(d.stages[2].line, 3);
    }

    #[test]
    fn from_errors() {
        assert!(
            error("FROM a b\n")
                .message
                .contains("one or three arguments")
        );
        assert!(
            error("FROM a AS 1x\n")
                .message
                .contains("invalid name for build stage")
        );
        assert!(
            error("FROM --plat=x a\n")
                .message
                .contains("unknown flag for FROM: --plat")
        );
        let e = error("FROM a AS x\nFROM b AS X\n");
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .contains("duplicate stage name \"x\" (first defined on line 1)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn run_shell_and_exec_forms() {
        let Kind::Run(r) = one("RUN apt-get update && \\\n  apt-get install -y x\n") else {
            panic!()
        };
        assert_eq!(
            r.command,
            CommandLine::Shell("apt-get update &&   apt-get install -y x".into())
        );
        let Kind::Run(r) = one(r#"RUN ["/bin/echo", "a b", "$HOME"]"#) else {
            panic!()
        };
        assert_eq!(
            r.command,
            CommandLine::Exec(vec!["/bin/echo".into(), "a b".into(), "$HOME".into()])
        );
        // A test command is shell form, not a broken JSON array.
        let Kind::Run(r) = one("RUN [ -f /etc/passwd ] && echo ok") else {
            panic!()
        };
        assert!(matches!(r.command, CommandLine::Shell(_)));
    }

    #[test]
    fn run_flags_recorded() {
        let Kind::Run(r) = one(
            "RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=build,source=/o,target=/i --network=none --security=insecure make",
        ) else {
            panic!()
        };
        assert_eq!(r.mounts.len(), 2);
        assert_eq!(r.mounts[0].kind, "cache");
        assert_eq!(r.mounts[1].from.as_deref(), Some("build"));
        assert_eq!(r.network.as_deref(), Some("none"));
        assert_eq!(r.security.as_deref(), Some("insecure"));
        assert_eq!(r.command, CommandLine::Shell("make".into()));
    }

    #[test]
    fn run_flag_errors() {
        assert!(
            error("FROM a\nRUN --network=bridge x\n")
                .message
                .contains("default, none or host")
        );
        assert!(
            error("FROM a\nRUN --security=x y\n")
                .message
                .contains("sandbox or insecure")
        );
        assert!(
            error("FROM a\nRUN --mount=type=nfs,target=/x y\n")
                .message
                .contains("unsupported mount type")
        );
        assert!(
            error("FROM a\nRUN --privileged y\n")
                .message
                .contains("unknown flag for RUN: --privileged")
        );
        assert!(
            error("FROM a\nRUN\n")
                .message
                .contains("RUN requires at least one argument")
        );
    }

    #[test]
    fn cmd_and_entrypoint() {
        assert_eq!(
            one("CMD [\"nginx\", \"-g\", \"daemon off;\"]"),
            Kind::Cmd {
                command: CommandLine::Exec(vec!["nginx".into(), "-g".into(), "daemon off;".into()])
            }
        );
        assert_eq!(
            one("CMD echo $HOME"),
            Kind::Cmd {
                command: CommandLine::Shell("echo $HOME".into())
            }
        );
        assert_eq!(
            one("ENTRYPOINT []"),
            Kind::Entrypoint {
                command: CommandLine::Exec(vec![])
            }
        );
        assert_eq!(
            one("entrypoint exec top -b"),
            Kind::Entrypoint {
                command: CommandLine::Shell("exec top -b".into())
            }
        );
    }

    #[test]
    fn bad_json_arrays_are_errors() {
        let e = error("FROM a\nCMD [\"a\", 1]\n");
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("bad JSON array in exec form"),
            "{}",
            e.message
        );
        let e = error("FROM a\nENTRYPOINT ['sh', '-c']\n");
        assert!(
            e.message.contains("bad JSON array in exec form"),
            "{}",
            e.message
        );
        let e = error("FROM a\nRUN [\"a\", \"b\"\n");
        assert!(
            e.message.contains("bad JSON array in exec form"),
            "{}",
            e.message
        );
    }

    #[test]
    fn env_both_forms() {
        assert_eq!(
            one(r#"ENV A=1 B="two words" C=three\ words"#),
            Kind::Env {
                pairs: vec![
                    kv("A", "1"),
                    kv("B", "\"two words\""),
                    kv("C", "three\\ words")
                ]
            }
        );
        assert_eq!(
            one("ENV LEGACY value with  spaces"),
            Kind::Env {
                pairs: vec![kv("LEGACY", "value with  spaces")]
            }
        );
        assert!(
            error("FROM a\nENV ONLYKEY\n")
                .message
                .contains("must have two arguments")
        );
        assert!(
            error("FROM a\nENV a=1 b\n")
                .message
                .contains("can't find =")
        );
        assert!(
            error("FROM a\nENV =x\n")
                .message
                .contains("names can not be blank")
        );
        assert!(
            error("FROM a\nENV\n")
                .message
                .contains("at least one argument")
        );
    }

    #[test]
    fn arg_forms() {
        assert_eq!(
            one("ARG A B=2 C=\"x y\" D="),
            Kind::Arg {
                args: vec![
                    ArgDecl {
                        name: "A".into(),
                        default: None
                    },
                    ArgDecl {
                        name: "B".into(),
                        default: Some("2".into())
                    },
                    ArgDecl {
                        name: "C".into(),
                        default: Some("\"x y\"".into())
                    },
                    ArgDecl {
                        name: "D".into(),
                        default: Some("".into())
                    },
                ]
            }
        );
        assert!(
            error("FROM a\nARG =1\n")
                .message
                .contains("ARG names can not be blank")
        );
    }

    #[test]
    fn label_forms() {
        assert_eq!(
            one("LABEL org.opencontainers.image.title=\"My App\" version=1"),
            Kind::Label {
                pairs: vec![
                    kv("org.opencontainers.image.title", "\"My App\""),
                    kv("version", "1")
                ]
            }
        );
        assert_eq!(
            one("LABEL maintainer someone"),
            Kind::Label {
                pairs: vec![kv("maintainer", "someone")]
            }
        );
    }

    #[test]
    fn expose_forms_and_errors() {
        assert_eq!(
            one("EXPOSE 80 443/tcp 53/udp 8000-8010 $PORT"),
            Kind::Expose {
                ports: vec![
                    "80".into(),
                    "443/tcp".into(),
                    "53/udp".into(),
                    "8000-8010".into(),
                    "$PORT".into()
                ]
            }
        );
        assert!(
            error("FROM a\nEXPOSE 80/icmp\n")
                .message
                .contains("invalid protocol")
        );
        assert!(
            error("FROM a\nEXPOSE http\n")
                .message
                .contains("not a port number")
        );
    }

    #[test]
    fn single_value_instructions() {
        assert_eq!(
            one("USER app:app"),
            Kind::User {
                user: "app:app".into()
            }
        );
        assert_eq!(
            one("WORKDIR /srv/my app"),
            Kind::Workdir {
                path: "/srv/my app".into()
            }
        );
        assert_eq!(
            one("STOPSIGNAL SIGQUIT"),
            Kind::Stopsignal {
                signal: "SIGQUIT".into()
            }
        );
        assert_eq!(
            one("MAINTAINER Jane <j@x.org>"),
            Kind::Maintainer {
                name: "Jane <j@x.org>".into()
            }
        );
        assert!(
            error("FROM a\nUSER\n")
                .message
                .contains("USER requires exactly one argument")
        );
        assert!(
            error("FROM a\nWORKDIR\n")
                .message
                .contains("WORKDIR requires exactly one argument")
        );
        assert!(
            error("FROM a\nSTOPSIGNAL SIGNOPE\n")
                .message
                .contains("invalid signal")
        );
    }

    #[test]
    fn volume_forms() {
        assert_eq!(
            one("VOLUME /data /logs"),
            Kind::Volume {
                paths: vec!["/data".into(), "/logs".into()]
            }
        );
        assert_eq!(
            one("VOLUME [\"/a b\"]"),
            Kind::Volume {
                paths: vec!["/a b".into()]
            }
        );
        assert!(
            error("FROM a\nVOLUME [\"\"]\n")
                .message
                .contains("can not be an empty string")
        );
        assert!(
            error("FROM a\nVOLUME\n")
                .message
                .contains("at least one argument")
        );
    }

    #[test]
    fn copy_with_all_flags() {
        let Kind::Copy(c) = one(
            "COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=.git ./a ./b /dst/",
        ) else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("build"));
        assert_eq!(c.chown.as_deref(), Some("app:app"));
        assert_eq!(c.chmod.as_deref(), Some("0755"));
        assert!(c.link && c.parents);
        assert_eq!(c.excludes, vec!["*.md", ".git"]);
        assert_eq!(
            c.sources,
            vec![
                CopySource::Path("./a".into()),
                CopySource::Path("./b".into())
            ]
        );
        assert_eq!(c.dest, "/dst/");
    }

    #[test]
    fn copy_json_and_errors() {
        let Kind::Copy(c) = one("COPY [\"a b\", \"/x y/\"]") else {
            panic!()
        };
        assert_eq!(c.sources, vec![CopySource::Path("a b".into())]);
        assert_eq!(c.dest, "/x y/");
        assert!(
            error("FROM a\nCOPY onlyone\n")
                .message
                .contains("at least two arguments")
        );
        assert!(
            error("FROM a\nCOPY --chmod=999 a b\n")
                .message
                .contains("invalid --chmod")
        );
        assert!(
            error("FROM a\nCOPY --keep-git-dir a b\n")
                .message
                .contains("unknown flag for COPY: --keep-git-dir")
        );
        // Symbolic modes are accepted.
        assert!(matches!(one("COPY --chmod=u=rwX,go=rX a b"), Kind::Copy(_)));
    }

    #[test]
    fn add_with_all_flags() {
        let sum = "sha256:".to_string() + &"a".repeat(64);
        let Kind::Add(a) = one(&format!(
            "ADD --chown=1:1 --chmod=644 --link --keep-git-dir --checksum={sum} --exclude=x --unpack=false https://example.com/a.tgz /opt/"
        )) else {
            panic!()
        };
        assert_eq!(a.chown.as_deref(), Some("1:1"));
        assert!(a.link && a.keep_git_dir);
        assert_eq!(a.checksum.as_deref(), Some(sum.as_str()));
        assert_eq!(a.unpack, Some(false));
        assert_eq!(a.excludes, vec!["x"]);
        assert!(
            error("FROM a\nADD --checksum=md5:00 a b\n")
                .message
                .contains("invalid --checksum")
        );
        assert!(
            error("FROM a\nADD --from=x a b\n")
                .message
                .contains("unknown flag for ADD: --from")
        );
    }

    #[test]
    fn shell_is_json_only() {
        assert_eq!(
            one("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]"),
            Kind::Shell {
                shell: vec![
                    "/bin/bash".into(),
                    "-o".into(),
                    "pipefail".into(),
                    "-c".into()
                ]
            }
        );
        assert!(
            error("FROM a\nSHELL /bin/bash -c\n")
                .message
                .contains("JSON form")
        );
        assert!(
            error("FROM a\nSHELL []\n")
                .message
                .contains("at least one argument")
        );
    }

    #[test]
    fn healthcheck_forms() {
        let Kind::Healthcheck(h) = one(
            "HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1",
        ) else {
            panic!()
        };
        assert!(!h.disable);
        assert_eq!(
            h.test,
            Some(CommandLine::Shell(
                "curl -f http://localhost/ || exit 1".into()
            ))
        );
        assert_eq!(h.interval_ns, Some(30_000_000_000));
        assert_eq!(h.timeout_ns, Some(3_000_000_000));
        assert_eq!(h.start_period_ns, Some(60_000_000_000));
        assert_eq!(h.start_interval_ns, Some(500_000_000));
        assert_eq!(h.retries, Some(3));
        let Kind::Healthcheck(h) = one("HEALTHCHECK CMD [\"/bin/check\"]") else {
            panic!()
        };
        assert_eq!(h.test, Some(CommandLine::Exec(vec!["/bin/check".into()])));
        let Kind::Healthcheck(h) = one("healthcheck none") else {
            panic!()
        };
        assert!(h.disable && h.test.is_none());
    }

    #[test]
    fn healthcheck_errors() {
        let m = |s: &str| error(&format!("FROM a\n{s}\n")).message;
        assert!(m("HEALTHCHECK NONE x").contains("takes no arguments"));
        assert!(m("HEALTHCHECK --interval=1s NONE").contains("takes no flags"));
        assert!(m("HEALTHCHECK CMD").contains("missing command"));
        assert!(m("HEALTHCHECK PING x").contains("unknown type"));
        assert!(m("HEALTHCHECK --interval=5 CMD x").contains("invalid duration"));
        assert!(m("HEALTHCHECK --retries=-1 CMD x").contains("non-negative"));
        assert!(m("HEALTHCHECK --interval=10us CMD x").contains("less than 1ms"));
        assert!(m("HEALTHCHECK --bogus=1 CMD x").contains("unknown flag for HEALTHCHECK"));
    }

    #[test]
    fn onbuild_nests_an_instruction() {
        let Kind::Onbuild {
            expression,
            trigger,
        } = one("ONBUILD COPY --chown=1:1 . /app")
        else {
            panic!()
        };
        assert_eq!(expression, "COPY --chown=1:1 . /app");
        assert_eq!(trigger.line, 2);
        let Kind::Copy(c) = &trigger.kind else {
            panic!()
        };
        assert_eq!(c.chown.as_deref(), Some("1:1"));
    }

    #[test]
    fn onbuild_forbidden_triggers() {
        let m = |s: &str| error(&format!("FROM a\n{s}\n")).message;
        assert!(m("ONBUILD ONBUILD RUN x").contains("ONBUILD ONBUILD"));
        assert!(m("ONBUILD FROM x").contains("FROM isn't allowed as an ONBUILD trigger"));
        assert!(m("ONBUILD maintainer x").contains("MAINTAINER isn't allowed"));
        assert!(m("ONBUILD").contains("at least one argument"));
        assert!(m("ONBUILD RUNN x").contains("unknown instruction"));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let kinds = body("run a\nRuN b\ncopy a b\nEnV a=b\n");
        let names: Vec<_> = kinds.iter().map(|k| k.keyword()).collect();
        assert_eq!(names, vec!["RUN", "RUN", "COPY", "ENV"]);
    }

    #[test]
    fn global_args_and_positions() {
        let d = df(
            "# syntax=docker/dockerfile:1\nARG BASE=alpine\n\nARG V\nFROM $BASE\n\nRUN a \\\n  b\nCMD x\n",
        );
        assert_eq!(d.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.global_args.len(), 2);
        assert_eq!(d.global_args[1].line, 4);
        let lines: Vec<(usize, usize)> = d.stages[0]
            .instructions
            .iter()
            .map(|i| (i.line, i.end_line))
            .collect();
        assert_eq!(lines, vec![(7, 8), (9, 9)]);
    }
}

mod heredocs {
    use super::*;

    #[test]
    fn run_heredoc_script() {
        let Kind::Run(r) = one("RUN <<EOF\napt-get update\napt-get install -y curl\nEOF") else {
            panic!()
        };
        assert_eq!(r.command, CommandLine::Shell("<<EOF".into()));
        assert_eq!(
            r.heredocs[0].content,
            "apt-get update\napt-get install -y curl\n"
        );
        assert!(r.heredocs[0].expand);
    }

    #[test]
    fn run_heredoc_with_program_and_redirect() {
        let Kind::Run(r) = one("RUN python3 <<'PY' > /out\nprint(\"$x\")\nPY") else {
            panic!()
        };
        assert_eq!(
            r.command,
            CommandLine::Shell("python3 <<'PY' > /out".into())
        );
        assert_eq!(r.heredocs[0].name, "PY");
        assert!(!r.heredocs[0].expand);
    }

    #[test]
    fn chomp_heredoc() {
        let Kind::Run(r) = one("RUN <<-EOF\n\tif true; then\n\t\techo yes\n\tfi\n\tEOF") else {
            panic!()
        };
        assert_eq!(r.heredocs[0].content, "if true; then\necho yes\nfi\n");
        assert!(r.heredocs[0].chomp);
    }

    #[test]
    fn multiple_heredocs_on_one_line() {
        let Kind::Run(r) = one("RUN <<A cat /dev/stdin && 3<<B cat /dev/fd/3\nfirst\nA\nsecond\nB")
        else {
            panic!()
        };
        assert_eq!(r.heredocs.len(), 2);
        assert_eq!(r.heredocs[0].content, "first\n");
        assert_eq!(r.heredocs[1].content, "second\n");
        assert_eq!(r.heredocs[1].fd, Some(3));
    }

    #[test]
    fn copy_heredoc_to_file() {
        let kinds = body(
            "COPY <<EOF /etc/app.conf\nport=$PORT\nEOF\nCOPY --chmod=755 <<\"RUNME\" <<OTHER /usr/local/bin/\n#!/bin/sh\nRUNME\nx\nOTHER\nUSER x\n",
        );
        let Kind::Copy(c) = &kinds[0] else { panic!() };
        assert_eq!(c.dest, "/etc/app.conf");
        let CopySource::Heredoc(h) = &c.sources[0] else {
            panic!()
        };
        assert_eq!(
            (h.name.as_str(), h.content.as_str(), h.expand),
            ("EOF", "port=$PORT\n", true)
        );
        let Kind::Copy(c) = &kinds[1] else { panic!() };
        assert_eq!(c.sources.len(), 2);
        let CopySource::Heredoc(h) = &c.sources[0] else {
            panic!()
        };
        assert!(!h.expand);
        assert_eq!(h.content, "#!/bin/sh\n");
        assert_eq!(kinds[2], Kind::User { user: "x".into() });
    }

    #[test]
    fn heredoc_as_destination_is_an_error() {
        let e = error("FROM a\nCOPY a <<EOF\nx\nEOF\n");
        assert!(
            e.message
                .contains("cannot accept a heredoc as a destination"),
            "{}",
            e.message
        );
    }

    #[test]
    fn unterminated_heredoc_position() {
        let e = error("FROM a\nRUN true\nRUN <<EOF\necho hi\n");
        assert_eq!(e.line, 3);
        assert!(
            e.to_string()
                .starts_with("Dockerfile:3: unterminated heredoc <<EOF"),
            "{e}"
        );
    }

    #[test]
    fn onbuild_heredoc() {
        let Kind::Onbuild {
            expression,
            trigger,
        } = one("ONBUILD RUN <<EOF\necho hi\nEOF")
        else {
            panic!()
        };
        assert_eq!(expression, "RUN <<EOF\necho hi\nEOF");
        let Kind::Run(r) = &trigger.kind else {
            panic!()
        };
        assert_eq!(r.heredocs[0].content, "echo hi\n");
    }
}

mod escape_directive {
    use super::*;

    #[test]
    fn backtick_escape_for_windows_paths() {
        let d = df("# escape=`\nFROM scratch\nCOPY . C:\\app\\\nRUN dir `\n  c:\\\nENV A=x` y\n");
        assert_eq!(d.directives.escape, '`');
        let k: Vec<_> = d.stages[0].instructions.iter().map(|i| &i.kind).collect();
        let Kind::Copy(c) = k[0] else { panic!() };
        assert_eq!(c.dest, "C:\\app\\");
        let Kind::Run(r) = k[1] else { panic!() };
        assert_eq!(r.command, CommandLine::Shell("dir   c:\\".into()));
        assert_eq!(
            k[2],
            &Kind::Env {
                pairs: vec![kv("A", "x` y")]
            }
        );
    }

    #[test]
    fn directive_errors_have_positions() {
        let e = error("# escape=`\n# escape=\\\nFROM a\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("only one escape"));
        let e = error("# escape=!\nFROM a\n");
        assert_eq!(e.line, 1);
    }
}

mod errors {
    use super::*;

    #[test]
    fn unknown_instruction_with_suggestion() {
        let e = error("FROM a\n\n# comment\nRUN ok\nUSER x\nLABEL a=b\nRUNN echo hi\n");
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            "Dockerfile:7: unknown instruction \"RUNN\" (did you mean \"RUN\"?)"
        );
        assert_eq!(e.excerpt.as_deref(), Some("RUNN echo hi"));
        let e = error("FORM a\n");
        assert!(e.message.contains("did you mean \"FROM\""), "{}", e.message);
        let e = error("FROM a\nBANANA x\n");
        assert_eq!(e.message, "unknown instruction \"BANANA\"");
    }

    #[test]
    fn instruction_before_from() {
        let e = error("ARG X\nRUN x\nFROM a\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("no build stage in current context"));
    }

    #[test]
    fn empty_and_from_less_files() {
        assert!(error("").message.contains("no instructions"));
        assert!(
            error("# just a comment\n\n")
                .message
                .contains("no instructions")
        );
        assert!(error("ARG A\n").message.contains("no FROM instruction"));
    }

    #[test]
    fn bad_substitution_syntax_is_found_at_parse_time() {
        let e = error("FROM a\nRUN ok\nENV A=${B\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("missing '}'"), "{}", e.message);
        let e = error("FROM a\nCOPY ${}x /y\n");
        assert!(e.message.contains("bad substitution"), "{}", e.message);
        let e = error("FROM ${IMG:#x}\n");
        assert!(e.message.contains("unsupported modifier"), "{}", e.message);
        // RUN is not expanded by the builder, so shell syntax is left alone.
        assert!(parse("FROM a\nRUN echo ${B\n", "Dockerfile").is_ok());
    }

    #[test]
    fn continued_instruction_errors_point_at_first_line() {
        let e = error("FROM a\nCOPY \\\n  --bogus \\\n  a b\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown flag for COPY: --bogus"));
    }
}

mod fuzz {
    use super::*;

    /// A tiny deterministic PRNG (xorshift), so failures are reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const SAMPLE: &str = r#"# syntax=docker/dockerfile:1
# escape=\
ARG BASE=alpine:3.19
FROM --platform=$BUILDPLATFORM ${BASE:-alpine} AS build
ARG VERSION=1.0
ENV PATH=/usr/local/bin:$PATH A="x y" B=${VERSION%%.*}
RUN --mount=type=cache,target=/root/.cache <<EOF
set -e
echo "${VERSION#v}"
EOF
COPY --from=busybox:1 --chown=1:1 --exclude=*.md ["a b", "/dst/"]
COPY <<-"CFG" /etc/app.conf
	k=$v
	CFG
ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://x/y.tgz /opt/
LABEL a=b "c d"=e
EXPOSE 80/tcp 8000-8010
HEALTHCHECK --interval=30s CMD ["curl", "-f", "http://x/"]
ONBUILD RUN echo ${X//a/b}
FROM build AS final
COPY --from=0 /a /b
WORKDIR /srv/${NAME:+x}
USER app:app
VOLUME ["/data"]
SHELL ["/bin/sh", "-c"]
STOPSIGNAL SIGTERM
CMD ["run"]
"#;

    fn run_everything(src: &str) {
        if let Ok(d) = parse(src, "fuzz") {
            let opts = crate::frontend::dockerfile::plan::BuildOptions::default();
            if let Ok(p) = crate::frontend::dockerfile::plan::plan(&d, &opts) {
                let _ = crate::frontend::dockerfile::evaluate::evaluate(&d, &p, &opts);
            }
        }
    }

    #[test]
    fn sample_parses() {
        let d = df(SAMPLE);
        assert_eq!(d.stages.len(), 2);
        let opts = crate::frontend::dockerfile::plan::BuildOptions::default();
        let p = crate::frontend::dockerfile::plan::plan(&d, &opts).unwrap();
        assert_eq!(p.order, vec![0, 1]);
        assert_eq!(p.stages[0].image_deps, vec!["busybox:1".to_string()]);
        crate::frontend::dockerfile::evaluate::evaluate(&d, &p, &opts).unwrap();
    }

    #[test]
    fn truncations_never_panic() {
        let chars: Vec<char> = SAMPLE.chars().collect();
        for cut in 0..=chars.len() {
            let prefix: String = chars[..cut].iter().collect();
            run_everything(&prefix);
            let suffix: String = chars[cut..].iter().collect();
            run_everything(&suffix);
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        let alphabet: Vec<char> = "\\`$'\"{}[]<>#=:-+?%/*!\n\t ,aZ0é\r".chars().collect();
        let base: Vec<char> = SAMPLE.chars().collect();
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for _ in 0..3000 {
            let mut text = base.clone();
            for _ in 0..1 + rng.below(8) {
                let pos = rng.below(text.len() + 1);
                match rng.below(3) {
                    0 if pos < text.len() => {
                        text.remove(pos);
                    }
                    1 if pos < text.len() => text[pos] = alphabet[rng.below(alphabet.len())],
                    _ => text.insert(pos, alphabet[rng.below(alphabet.len())]),
                }
            }
            run_everything(&text.iter().collect::<String>());
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(42);
        for _ in 0..2000 {
            let len = rng.below(200);
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
            run_everything(&String::from_utf8_lossy(&bytes));
            // Also keyword-prefixed noise, to get past the keyword check.
            let kw = KEYWORDS[rng.below(KEYWORDS.len())];
            run_everything(&format!("FROM a\n{kw} {}", String::from_utf8_lossy(&bytes)));
        }
    }
}

/// Hostile inputs from issue "rt-build II": each once crashed or hung the
/// front end. None asserts on time (no timed tests); the hang cases
/// assert on the error that now comes back instead.
mod limits {
    use super::*;
    use crate::frontend::dockerfile::evaluate::{EvaluatedStage, evaluate};
    use crate::frontend::dockerfile::expand::{MAX_DEPTH, Meter, expand_metered};
    use crate::frontend::dockerfile::plan::{BuildOptions, plan};
    use crate::frontend::dockerfile::scope::Scope;

    fn run(src: &str) -> Result<Vec<EvaluatedStage>, super::super::DockerfileError> {
        let d = parse(src, "Dockerfile")?;
        let opts = BuildOptions::default();
        let p = plan(&d, &opts)?;
        evaluate(&d, &p, &opts)
    }

    fn nested(levels: usize) -> String {
        format!("{}b{}", "${a:-".repeat(levels), "}".repeat(levels))
    }

    /// 20,000 levels overflowed the stack (abort, exit 134).
    #[test]
    fn deep_substitution_nesting_is_an_error_not_a_stack_overflow() {
        let e = run(&format!("FROM a\nENV x={}\n", nested(20_000))).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .contains("variable substitution nested deeper than 100 levels"),
            "{}",
            e.message
        );
        assert!(e.to_string().len() < 1000, "{e}");
    }

    #[test]
    fn nesting_up_to_the_limit_works() {
        let stages = run(&format!("FROM a\nENV x={}\n", nested(MAX_DEPTH))).unwrap();
        assert_eq!(stages[0].scope.env[0].1, "b");
        let e = run(&format!("FROM a\nENV x={}\n", nested(MAX_DEPTH + 1))).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{}", e.message);
    }

    /// The other recursive constructs: JSON arrays (serde_json stops at
    /// 128 levels), heredocs and ONBUILD (neither recurses).
    #[test]
    fn deep_json_arrays_heredocs_and_onbuild_do_not_recurse() {
        let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        for kw in ["RUN", "CMD", "COPY", "VOLUME", "SHELL", "ONBUILD RUN"] {
            let _ = run(&format!("FROM a\n{kw} {deep}\n"));
            let _ = run(&format!("FROM a\n{kw} [\"{deep}\n"));
        }
        let markers = "<<EOF ".repeat(20_000);
        let e = run(&format!("FROM a\nRUN {markers}\n")).unwrap_err();
        assert!(e.message.contains("unterminated heredoc"), "{}", e.message);
        let e = run(&format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(20_000))).unwrap_err();
        assert!(e.message.contains("ONBUILD ONBUILD"), "{}", e.message);
    }

    fn doubling(lines: usize) -> String {
        let mut src = String::from("ARG a1=x\n");
        for i in 2..=lines {
            src.push_str(&format!("ARG a{i}=${{a{}}}${{a{}}}\n", i - 1, i - 1));
        }
        src
    }

    /// 30 doubling global ARGs grew to gigabytes. a21 is exactly 1 MiB,
    /// a22 would be 2 MiB.
    #[test]
    fn doubling_global_args_stop_at_the_word_limit() {
        let e = run(&format!("{}FROM a\n", doubling(30))).unwrap_err();
        assert_eq!(e.line, 22);
        assert!(
            e.message
                .starts_with("ARG a22: value too long: substituting ${a21}"),
            "{}",
            e.message
        );
        assert!(e.message.contains("1 MiB"), "{}", e.message);
    }

    #[test]
    fn doubling_stage_args_stop_at_the_word_limit() {
        let e = run(&format!("FROM a\n{}", doubling(30))).unwrap_err();
        assert_eq!(e.line, 23);
        assert!(
            e.message.starts_with("ARG: a22: value too long"),
            "{}",
            e.message
        );
    }

    /// Many values, each under the word limit, still hit the budget for
    /// all ARG and ENV values of a build (64 MiB): 21 doublings make 1 MiB,
    /// then ENV copies of it add up.
    #[test]
    fn arg_and_env_values_have_a_total_budget() {
        let mut src = format!("FROM a\n{}", doubling(21));
        for i in 0..70 {
            src.push_str(&format!("ENV copy{i}=$a21\n"));
        }
        let e = run(&src).unwrap_err();
        assert!(
            e.message
                .contains("ARG and ENV values add up to more than 64 MiB"),
            "{}",
            e.message
        );
        assert!(e.message.starts_with("ENV: copy"), "{}", e.message);
        assert!(e.line > 22, "{}", e.line);
    }

    /// One 1 MiB ENV and many RUN lines: every RUN step carries a copy of
    /// the environment, so that copying has a budget too.
    #[test]
    fn run_environments_have_a_budget() {
        let mut src = format!("FROM a\n{}ENV big=$a21\n", doubling(21));
        for _ in 0..300 {
            src.push_str("RUN true\n");
        }
        let e = run(&src).unwrap_err();
        assert!(e.message.contains("more than 256 MiB"), "{}", e.message);
        assert!(e.message.starts_with("RUN: "), "{}", e.message);
    }

    /// 100,000 ENV lines took over 60 s (each lookup scanned all earlier
    /// variables). Not timed: quadratic work here would hang the suite.
    #[test]
    fn many_env_label_and_run_lines() {
        let n: usize = 100_000;
        let mut src = String::from("FROM a\n");
        for i in 0..n {
            // Refers to an earlier variable without growing.
            src.push_str(&format!("ENV v{i}=${{v{}:+y}}{i}\n", i / 2));
        }
        crate::frontend::dockerfile::scope::SCANNED.with(|c| c.set(0));
        let stages = run(&src).unwrap();
        // The work count: no lookup scanned the earlier variables.
        assert_eq!(
            crate::frontend::dockerfile::scope::SCANNED.with(|c| c.get()),
            0
        );
        assert_eq!(stages[0].scope.env.len(), n);
        assert_eq!(stages[0].scope.get("v0"), Some("0"));
        assert_eq!(stages[0].scope.get("v99999"), Some("y99999"));

        let mut src = String::from("FROM a\nARG A=1\n");
        for i in 0..n {
            src.push_str(&format!("LABEL l{i}=$A\nRUN echo {i}\n"));
        }
        let stages = run(&src).unwrap();
        assert_eq!(stages[0].steps.len(), 2 * n + 1);
    }

    #[test]
    fn many_stages_plan_without_rescanning() {
        let mut src = String::from("FROM scratch AS s0\n");
        for i in 1..20_000 {
            src.push_str(&format!("FROM s{} AS s{i}\nCOPY --from=s0 /a /a\n", i - 1));
        }
        let stages = run(&src).unwrap();
        assert_eq!(stages.len(), 20_000);
    }

    /// A 2 MB garbage line took 4 s (an edit-distance table per keyword
    /// for the "did you mean") and printed the line back whole.
    #[test]
    fn garbage_line_gives_a_short_error() {
        let garbage = "x".repeat(1 << 20) + " " + &"y".repeat(1 << 20);
        let e = run(&format!("FROM a\n{garbage}\n")).unwrap_err();
        assert_eq!(e.line, 2);
        let text = e.to_string();
        assert!(text.len() < 600, "{} bytes: {text}", text.len());
        assert!(text.contains("unknown instruction \"xxxx"), "{text}");
        assert!(text.contains('…'), "{text}");
    }

    #[test]
    fn long_words_are_quoted_short_in_errors() {
        let word = format!("{}${{", "w".repeat(1 << 20));
        let e = run(&format!("FROM a\nENV x={word}\n")).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().len() < 800, "{e}");
        let e = run(&format!("FROM a\nEXPOSE {}\n", "9".repeat(1 << 20))).unwrap_err();
        assert!(e.to_string().len() < 800, "{e}");
    }

    #[test]
    fn instructions_longer_than_the_line_limit_are_refused() {
        let big = "a".repeat(crate::frontend::dockerfile::lines::MAX_LINE / 2);
        let e = run(&format!("FROM a\nRUN echo {big} \\\n {big} \\\n {big}\n")).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .contains("instruction with its continuation lines longer than 16 MiB"),
            "{}",
            e.message
        );
        let e = run(&format!("FROM a\nRUN <<EOF\n{big}\n{big}\n{big}\nEOF\n")).unwrap_err();
        assert!(e.message.contains("here-document <<EOF"), "{}", e.message);
    }

    /// A literal word over the limit fails too, without expanding further.
    #[test]
    fn literal_words_over_the_limit_fail() {
        let e = run(&format!("FROM a\nLABEL x={}\n", "v".repeat((1 << 20) + 1))).unwrap_err();
        assert!(e.message.contains("value too long"), "{}", e.message);
    }

    /// `${v//a*b/}` over a value of `a`s tries every start position to the
    /// end: quadratic. The build's matching budget turns that into an
    /// error (here a small budget, to keep the test quick).
    #[test]
    fn pattern_matching_has_a_work_budget() {
        let mut scope = Scope::default();
        scope.declare("v", Some("a".repeat(10_000)));
        let mut meter = Meter::default();
        meter.max_match_work = 1_000_000;
        let e = expand_metered("${v//a*b/}", '\\', &scope, &meter).unwrap_err();
        assert!(e.contains("pattern matching on ${v} takes too long"), "{e}");
        // Linear cases stay well inside it.
        let meter = Meter::default();
        let out = expand_metered("${v//a/b}", '\\', &scope, &meter).unwrap();
        assert_eq!(out, "b".repeat(10_000));
        assert!(meter.match_work() < 100_000, "{}", meter.match_work());
        let out = expand_metered("${v%%a*}|${v#*a}", '\\', &scope, &meter).unwrap();
        assert_eq!(out.len(), 1 + 9_999);
    }
}
