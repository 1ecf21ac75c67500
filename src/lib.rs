//! The `patchwork` command line as a library: the subcommands ([`cmd`], [`plan_cmd`]) and
//! [`main`], which the binary (`src/main.rs`) calls. Tests drive the same argument types.

#[macro_use]
pub mod out;
pub mod cmd;
pub mod output;
pub mod plan_cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Private CNN inference with Block-ReLU and approximate DReLU over 3-party SecureNN.
#[derive(Parser)]
#[command(name = "patchwork", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Measures the error rate of approximate DReLU for a grid of (k_msb, k_lsb) on synthetic
    /// activations.
    ApproxError(cmd::approx_error::Args),
    /// Float reference forward pass of a model on one input.
    Reference(cmd::models::ReferenceArgs),
    /// Block-ReLU spec tools.
    Spec(cmd::models::SpecArgs),
    /// Writes a model's public architecture (no weights) for P0 and P2.
    Architecture(cmd::models::ArchitectureArgs),
    /// Accuracy of a model on a data set (float reference).
    Eval(cmd::models::EvalArgs),
    /// One secure inference with all three parties on this machine.
    Infer(cmd::secure::InferArgs),
    /// One party of a secure inference as its own process, over an authenticated TCP session.
    Party(cmd::party::PartyArgs),
    /// P1 or P2 as a long-running service for many P0 clients.
    Serve(cmd::serve::ServeArgs),
    /// Starts P1 and P2 services and runs many concurrent P0 clients against them.
    LoadTest(cmd::load_test::LoadTestArgs),
    /// Session set-up helpers (identities and session files).
    Session(cmd::party::SessionArgs),
    /// Kills or stalls one party process at random points of many secure inferences and checks
    /// that the others end with typed errors in time.
    FaultHarness(cmd::fault_harness::FaultHarnessArgs),
    /// The bundled model and spec on the bundled Fashion-MNIST images, securely.
    Demo(cmd::secure::DemoArgs),
    /// Offline planning of Block-ReLU patch sizes.
    Plan(plan_cmd::PlanArgs),
    /// Fine-tunes a model with the Block-ReLUs of a spec (PyTorch, in $PATCHWORK_VENV).
    Finetune(cmd::finetune::FinetuneArgs),
    /// PNG figures from measured result files.
    Plot(cmd::plot::PlotArgs),
    /// Prints a completion script for a shell (e.g. `patchwork completions bash >
    /// ~/.local/share/bash-completion/completions/patchwork`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Bits per element, rounds and throughput of each protocol step over the in-memory network.
    Protocols {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Elements per step (a multiple of 1024).
        #[arg(long, default_value_t = 1 << 18)]
        elements: usize,
        /// Repetitions; the best time is kept.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Only these steps (comma-separated names, e.g. `drelu,brelu_4x4`).
        #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(cmd::bench::STEPS))]
        only: Vec<String>,
    },
    /// One secure inference of a whole model, three party processes over loopback TLS.
    Model(cmd::bench_model::BenchModelArgs),
}

/// Parses `patchwork plan ARGS...` through the binary's own command tree (the tests of `plan`).
pub fn parse_plan<I, T>(args: I) -> Result<plan_cmd::PlanArgs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString>,
{
    let argv = ["patchwork", "plan"]
        .map(std::ffi::OsString::from)
        .into_iter()
        .chain(args.into_iter().map(Into::into));
    match Cli::try_parse_from(argv)?.command {
        Command::Plan(p) => Ok(p),
        _ => Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand)),
    }
}

/// Parses the command line, runs the command and maps its result to the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench {
            what:
                BenchWhat::Protocols {
                    json,
                    elements,
                    reps,
                    only,
                },
        } => {
            if elements < 1024 || elements % 1024 != 0 || reps == 0 {
                Err(
                    "--elements must be a positive multiple of 1024 and --reps at least 1"
                        .to_string(),
                )
            } else {
                let rows = cmd::bench::protocols(elements, reps, &only);
                if json {
                    let map: serde_json::Map<String, serde_json::Value> = rows
                        .into_iter()
                        .map(|(k, v)| (k, serde_json::to_value(v).expect("plain numbers")))
                        .collect();
                    outln!("{}", serde_json::Value::Object(map));
                } else {
                    cmd::bench::print_table(&rows);
                }
                Ok(())
            }
        }
        Command::Bench {
            what: BenchWhat::Model(args),
        } => cmd::bench_model::run(&args),
        Command::ApproxError(args) => cmd::approx_error::run(&args),
        Command::Reference(args) => cmd::models::run_reference(&args).map_err(|e| e.to_string()),
        Command::Spec(args) => cmd::models::run_spec(&args).map_err(|e| e.to_string()),
        Command::Architecture(args) => cmd::models::run_architecture(&args),
        Command::Eval(args) => cmd::models::run_eval(&args).map_err(|e| e.to_string()),
        Command::Infer(args) => cmd::secure::run_infer(&args),
        Command::Demo(args) => cmd::secure::run_demo(&args),
        Command::Party(args) => cmd::party::run_party_command(&args),
        Command::Session(args) => cmd::party::run_session(&args),
        Command::Serve(args) => cmd::serve::run_serve(&args),
        Command::LoadTest(args) => cmd::load_test::run(&args),
        Command::FaultHarness(args) => cmd::fault_harness::run(&args),
        Command::Plan(args) => plan_cmd::run(&args).map_err(|e| e.to_string()),
        Command::Finetune(args) => cmd::finetune::run(&args),
        Command::Plot(args) => cmd::plot::run(&args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "patchwork", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
