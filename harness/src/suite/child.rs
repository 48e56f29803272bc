//! One case of a suite (a scenario × seed), run as a child `fencepost scenario` process.
//!
//! A child per case is what lets a suite run several cases at once without them disturbing each
//! other's timing: each has its own runtime and threads, so one run's checkers and chart
//! rendering (seconds of CPU after its clients stop) never hold up another run's clients, and
//! the kernel time-slices them as it would any two programs. It is also exactly the command a
//! user reruns to reproduce a case. The child is spawned with a parent-death signal (it dies if
//! the suite is killed), writes its stdout and stderr to a log in the suite folder, and hands its
//! verdict back as the `results.json` it would write anyway (`--result-json`).

use crate::duration::Dur;
use crate::judge::RunResult;
use crate::nodes::node::tail;
use crate::nodes::spawner;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to run one case.
#[derive(Clone, Debug)]
pub struct CaseCommand {
    /// The fencepost binary to run (`current_exe` for the CLI).
    pub fencepost: PathBuf,
    /// The scenario as a user names it (a name, or a file path).
    pub scenario: String,
    pub scenarios_dir: PathBuf,
    pub results_dir: PathBuf,
    pub seed: u64,
    pub duration: Option<Dur>,
    /// More arguments (e.g. `--client redis-py`).
    pub extra: Vec<String>,
    /// Where the child's stdout and stderr go.
    pub log: PathBuf,
    /// Where the child writes its verdict.
    pub result_json: PathBuf,
}

/// What every run of a lock library shares in a matrix, a version table or a bisection: the
/// binary, the folders and a duration override. [`LibraryCases::case`] is one run of
/// `scenarios_dir/<fault>.toml` with `--client <spec>`.
#[derive(Clone, Debug)]
pub struct LibraryCases {
    pub fencepost: PathBuf,
    pub scenarios_dir: PathBuf,
    pub results_dir: PathBuf,
    pub adapters_dir: PathBuf,
    pub duration: Option<Dur>,
    /// `--server KIND[@VERSION]` for every run.
    pub server: Option<crate::servers::ServerAsk>,
}

impl LibraryCases {
    /// `fault` × `spec` (`LIB` or `LIB@VERSION`) × `seed`, logged in `logs` as `<tag>.log` (its
    /// verdict as `.<tag>.json`).
    pub fn case(&self, fault: &str, spec: &str, seed: u64, logs: &Path, tag: &str) -> CaseCommand {
        CaseCommand {
            fencepost: self.fencepost.clone(),
            scenario: self
                .scenarios_dir
                .join(format!("{fault}.toml"))
                .display()
                .to_string(),
            scenarios_dir: self.scenarios_dir.clone(),
            results_dir: self.results_dir.clone(),
            seed,
            duration: self.duration,
            extra: [
                "--client".into(),
                spec.to_string(),
                "--adapters".into(),
                self.adapters_dir.display().to_string(),
            ]
            .into_iter()
            .chain(server_args(self.server.as_ref()))
            .collect(),
            log: logs.join(format!("{tag}.log")),
            result_json: logs.join(format!(".{tag}.json")),
        }
    }
}

/// `--server KIND@VERSION` when one was asked.
pub fn server_args(server: Option<&crate::servers::ServerAsk>) -> Vec<String> {
    server
        .map(|s| vec!["--server".to_string(), s.label()])
        .unwrap_or_default()
}

impl CaseCommand {
    /// One run of the scenario file `file` with the adapters of `adapters_dir` (an explore's
    /// drawn schedule, a shrink's candidate), logged in `logs` as `<tag>.log`.
    pub fn of_file(
        fencepost: &Path,
        file: &Path,
        seed: u64,
        results_dir: &Path,
        adapters_dir: &Path,
        logs: &Path,
        tag: &str,
    ) -> CaseCommand {
        CaseCommand {
            fencepost: fencepost.to_path_buf(),
            scenario: file.display().to_string(),
            scenarios_dir: file.parent().unwrap_or(Path::new(".")).to_path_buf(),
            results_dir: results_dir.to_path_buf(),
            seed,
            duration: None,
            extra: vec!["--adapters".into(), adapters_dir.display().to_string()],
            log: logs.join(format!("{tag}.log")),
            result_json: logs.join(format!(".{tag}.json")),
        }
    }

    /// What a user types to replay it: `fencepost scenario FILE --seed N --results DIR` and
    /// the extra arguments, quoted as sh reads them.
    pub fn replay(&self) -> String {
        let mut words = vec![
            "fencepost".to_string(),
            "scenario".into(),
            self.scenario.clone(),
            "--seed".into(),
            self.seed.to_string(),
            "--results".into(),
            self.results_dir.display().to_string(),
        ];
        words.extend(self.extra.iter().cloned());
        shell_words::join(words)
    }
}

/// How a case's child ended.
#[derive(Debug)]
pub enum CaseEnd {
    /// The run was judged (met or not, or stopped early by a signal).
    Judged(Box<RunResult>),
    /// The run could not be run or judged; the message ends with the last lines of its log.
    Failed(String),
    /// The run was stopped by a signal before it had a verdict to write (it was starting).
    Interrupted,
}

/// A running case.
pub struct RunningCase {
    child: std::process::Child,
    cmd: CaseCommand,
}

impl CaseCommand {
    /// The arguments a user would type after `fencepost` to rerun this case alone.
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "scenario".to_string(),
            self.scenario.clone(),
            "--seed".into(),
            self.seed.to_string(),
            "--scenarios".into(),
            self.scenarios_dir.display().to_string(),
            "--results".into(),
            self.results_dir.display().to_string(),
        ];
        if let Some(d) = self.duration {
            args.extend(["--duration".into(), d.to_string()]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    /// Starts the child.
    pub fn start(self) -> std::io::Result<RunningCase> {
        if let Some(dir) = self.log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let log = std::fs::File::create(&self.log)?;
        let mut cmd = Command::new(&self.fencepost);
        cmd.args(self.args())
            .arg("--result-json")
            .arg(&self.result_json)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = spawner::spawn(cmd)?;
        Ok(RunningCase { child, cmd: self })
    }
}

impl RunningCase {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child (blocking: call it off the async runtime) and reads its verdict.
    pub fn wait(mut self) -> CaseEnd {
        let status = match self.child.wait() {
            Ok(s) => s,
            Err(e) => return CaseEnd::Failed(format!("cannot wait for the run: {e}")),
        };
        let judged = std::fs::read_to_string(&self.cmd.result_json)
            .ok()
            .and_then(|text| serde_json::from_str::<RunResult>(&text).ok());
        let _ = std::fs::remove_file(&self.cmd.result_json);
        match (status.code(), judged) {
            // 0 met, 1 not met, 3 unknown, 130 stopped by a signal: the verdict is on disk
            (Some(0 | 1 | 3 | 130), Some(result)) => CaseEnd::Judged(Box::new(result)),
            (Some(130), None) => CaseEnd::Interrupted,
            _ => CaseEnd::Failed(format!(
                "`fencepost {}` ended with {status}; its log {}:\n{}",
                self.cmd.args().join(" "),
                self.cmd.log.display(),
                tail(&self.cmd.log, 12)
            )),
        }
    }
}
