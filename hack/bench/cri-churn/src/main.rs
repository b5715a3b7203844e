//! Pod churn through a CRI runtime service (containerd's CRI plugin): for
//! each of N pods, one after the other, RunPodSandbox, CreateContainer,
//! StartContainer, StopContainer, RemoveContainer, StopPodSandbox and
//! RemovePodSandbox, with the given runtime handler, each call timed.
//!
//!   cri-churn --socket PATH --handler NAME --image REF [--pods N]
//!             [--cgroup-parent /P] [--label TEXT] [--hold-ms MS]
//!
//! `--hold-ms` keeps each container running that long after
//! StartContainer, and first prints `# running POD_ID CONTAINER_ID` to
//! stderr: the integration suite uses it to look at the running container
//! through the runtime (README's containerd snippet test).
//!
//! Prints one tab-separated line per pod: label, pod number, start and end
//! (Unix time in nanoseconds, to match with the runtime's own timings), the
//! milliseconds of each call in the order above, and the pod's total.
//! Pods use the host network (no CNI here) and a `sleep 3600` container,
//! stopped with timeout 0 (SIGKILL), as a kubelet does with a zero grace
//! period. Any failed call stops the run with exit code 1.

use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::transport::{Channel, Endpoint};

struct Options {
    socket: String,
    handler: String,
    image: String,
    pods: u32,
    cgroup_parent: String,
    label: String,
    hold: Duration,
}

fn usage() -> ! {
    eprintln!(
        "usage: cri-churn --socket PATH --handler NAME --image REF [--pods N] [--cgroup-parent /P] [--label TEXT] [--hold-ms MS]"
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut o = Options {
        socket: String::new(),
        handler: String::new(),
        image: String::new(),
        pods: 50,
        cgroup_parent: String::new(),
        label: String::new(),
        hold: Duration::ZERO,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else { usage() };
        match flag.as_str() {
            "--socket" => o.socket = value,
            "--handler" => o.handler = value,
            "--image" => o.image = value,
            "--pods" => o.pods = value.parse().unwrap_or_else(|_| usage()),
            "--cgroup-parent" => o.cgroup_parent = value,
            "--label" => o.label = value,
            "--hold-ms" => {
                o.hold = Duration::from_millis(value.parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    if o.socket.is_empty() || o.handler.is_empty() || o.image.is_empty() {
        usage()
    }
    if o.label.is_empty() {
        o.label = o.handler.clone();
    }
    o
}

/// A gRPC channel over the CRI unix socket (the URI is a placeholder).
async fn connect(socket: &str) -> Result<Channel, String> {
    let socket = socket.to_string();
    Endpoint::try_from("http://[::1]:1")
        .map_err(|e| e.to_string())?
        .connect_with_connector(tower::service_fn(move |_| {
            let socket = socket.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(socket).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|e| format!("connect: {e}"))
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn sandbox_config(o: &Options, n: u32) -> PodSandboxConfig {
    let name = format!("churn-{}-{n}", o.label);
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            uid: format!("uid-{name}-{}", std::process::id()),
            name,
            namespace: "bench".into(),
            attempt: 0,
        }),
        // No hostname: a host-network pod shares the host's UTS namespace,
        // where runc refuses to set one.
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: o.cgroup_parent.clone(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Node as i32,
                    pid: NamespaceMode::Pod as i32,
                    ipc: NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_config(o: &Options, n: u32) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: format!("c{n}"),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: o.image.clone(),
            ..Default::default()
        }),
        command: vec!["sleep".into(), "3600".into()],
        linux: Some(LinuxContainerConfig::default()),
        ..Default::default()
    }
}

/// Runs one call, adds its milliseconds to `times`, fails with its name.
macro_rules! timed {
    ($times:expr, $what:expr, $call:expr) => {{
        let t = Instant::now();
        let r = $call
            .await
            .map_err(|e| format!("{}: {}", $what, e.message()))?;
        $times.push(t.elapsed());
        r.into_inner()
    }};
}

async fn one_pod(
    rt: &mut RuntimeServiceClient<Channel>,
    o: &Options,
    n: u32,
) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(7);
    let config = sandbox_config(o, n);
    let pod = timed!(
        times,
        "RunPodSandbox",
        rt.run_pod_sandbox(RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: o.handler.clone(),
        })
    )
    .pod_sandbox_id;
    let ctr = timed!(
        times,
        "CreateContainer",
        rt.create_container(CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(container_config(o, n)),
            sandbox_config: Some(config),
        })
    )
    .container_id;
    timed!(
        times,
        "StartContainer",
        rt.start_container(StartContainerRequest {
            container_id: ctr.clone()
        })
    );
    if !o.hold.is_zero() {
        eprintln!("# running {pod} {ctr}");
        tokio::time::sleep(o.hold).await;
    }
    timed!(
        times,
        "StopContainer",
        rt.stop_container(StopContainerRequest {
            container_id: ctr.clone(),
            timeout: 0,
        })
    );
    timed!(
        times,
        "RemoveContainer",
        rt.remove_container(RemoveContainerRequest { container_id: ctr })
    );
    timed!(
        times,
        "StopPodSandbox",
        rt.stop_pod_sandbox(StopPodSandboxRequest {
            pod_sandbox_id: pod.clone()
        })
    );
    timed!(
        times,
        "RemovePodSandbox",
        rt.remove_pod_sandbox(RemovePodSandboxRequest {
            pod_sandbox_id: pod
        })
    );
    Ok(times)
}

async fn churn(o: &Options) -> Result<(), String> {
    let channel = connect(&o.socket).await?;
    let mut images = ImageServiceClient::new(channel.clone());
    let status = images
        .image_status(ImageStatusRequest {
            image: Some(ImageSpec {
                image: o.image.clone(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
        .map_err(|e| format!("ImageStatus: {}", e.message()))?
        .into_inner();
    if status.image.is_none() {
        return Err(format!("image {} is not in the CRI image store", o.image));
    }
    let mut rt = RuntimeServiceClient::new(channel);
    println!(
        "# label\tpod\tstart_ns\tend_ns\tRunPodSandbox\tCreateContainer\tStartContainer\tStopContainer\tRemoveContainer\tStopPodSandbox\tRemovePodSandbox\ttotal_ms"
    );
    for n in 0..o.pods {
        let start = now_ns();
        let times = one_pod(&mut rt, o, n)
            .await
            .map_err(|e| format!("pod {n}: {e}"))?;
        let end = now_ns();
        let ms: Vec<String> = times
            .iter()
            .map(|d| format!("{:.3}", d.as_secs_f64() * 1e3))
            .collect();
        let total: f64 = times.iter().map(|d| d.as_secs_f64() * 1e3).sum();
        println!(
            "{}\t{n}\t{start}\t{end}\t{}\t{total:.3}",
            o.label,
            ms.join("\t")
        );
    }
    Ok(())
}

fn main() {
    let o = parse_args();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("cri-churn: tokio runtime: {e}");
            std::process::exit(1)
        });
    if let Err(e) = runtime.block_on(churn(&o)) {
        eprintln!("cri-churn: {e}");
        std::process::exit(1);
    }
}
