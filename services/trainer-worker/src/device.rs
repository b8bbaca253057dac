//! The hardware this worker runs on, measured on the host: the CPU model and cores from the
//! operating system, memory, and the GPU when libtorch can use one.

use std::process::Command;

use trainyard_core::contracts::worker::{DeviceInfo, DeviceKind, GpuInfo};

/// Measures the host once (heartbeats repeat the answer).
pub fn measure() -> DeviceInfo {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let gpu = if tch::Cuda::is_available() {
        Some(gpu_info(tch::Cuda::device_count().max(1) as u32))
    } else {
        None
    };
    DeviceInfo {
        kind: if gpu.is_some() {
            DeviceKind::Cuda
        } else {
            DeviceKind::Cpu
        },
        cpu: cpu_model(&cpuinfo).unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
        cores: crate::config::cores() as u32,
        memory_bytes: mem_total(&meminfo).unwrap_or(0),
        gpu,
    }
}

/// `model name` of the first processor in `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// libtorch tells whether CUDA works but not what the card is: ask the driver's tool, then the
/// driver's own files (which give the name but not the memory).
fn gpu_info(count: u32) -> GpuInfo {
    let smi = Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total",
            "--format=csv,noheader,nounits",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if let Some((name, memory_bytes)) = smi.as_deref().and_then(parse_smi) {
        return GpuInfo {
            name,
            memory_bytes,
            count,
        };
    }
    tracing::warn!("nvidia-smi not usable; the GPU's memory is reported as 0 (unknown)");
    GpuInfo {
        name: proc_gpu_name().unwrap_or_else(|| "CUDA device".to_owned()),
        memory_bytes: 0,
        count,
    }
}

/// The first line of `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`:
/// `NVIDIA H200, 143771` (MiB).
fn parse_smi(out: &str) -> Option<(String, u64)> {
    let (name, mib) = out.lines().next()?.rsplit_once(',')?;
    let mib: u64 = mib.trim().parse().ok()?;
    Some((name.trim().to_owned(), mib << 20))
}

fn proc_gpu_name() -> Option<String> {
    let dir = std::fs::read_dir("/proc/driver/nvidia/gpus").ok()?;
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("information")).ok())
        .find_map(|info| {
            info.lines()
                .find(|l| l.starts_with("Model:"))
                .map(|l| l["Model:".len()..].trim().to_owned())
        })
}

/// How the engine's device prints in reports: `cpu`, `cuda:0`.
pub fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cuda(index) => format!("cuda:{index}"),
        _ => "cpu".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_files_are_read_as_the_kernel_writes_them() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(
            mem_total("MemTotal:       16384 kB\nMemFree: 1 kB\n"),
            Some(16384 * 1024)
        );
        assert_eq!(
            parse_smi("NVIDIA H200, 143771\n"),
            Some(("NVIDIA H200".to_owned(), 143771 << 20))
        );
        assert_eq!(device_name(tch::Device::Cuda(1)), "cuda:1");
        assert_eq!(device_name(tch::Device::Cpu), "cpu");
    }

    #[test]
    fn this_host_is_measured() {
        let device = measure();
        assert!(device.cores >= 1);
        assert!(device.memory_bytes > 0);
        assert!(!device.cpu.is_empty());
        assert_eq!(device.gpu.is_some(), tch::Cuda::is_available());
    }
}
