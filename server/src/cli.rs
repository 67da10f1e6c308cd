//! The command line of the `partnersync` binary. Each command parses its
//! arguments and calls the same service functions as the REST API.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sync::cli_output::{self, InputFile, Section};
use sync::protocol::{NewUser, Role};
use sync::read::ReadOptions;
use sync::rules::NumberRules;
use sync::schema::Kind;

use crate::config::Config;
use crate::service::users;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "partnersync",
    version,
    about = "Keeps customer and employee records in step with your other systems."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app and the REST API (the default command).
    Serve {
        /// Address to listen on (default 127.0.0.1:3000, or PARTNERSYNC_ADDR).
        #[arg(long)]
        addr: Option<SocketAddr>,
    },
    /// Manage who may sign in.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Show what Partnersync reads from a CSV or XLSX file: encoding,
    /// delimiter, sheet, header, column mapping, rows and row errors.
    Inspect {
        file: PathBuf,
        #[arg(long, value_parser = parse_kind, default_value = "customer")]
        kind: Kind,
        #[command(flatten)]
        read: ReadArgs,
        /// Print JSON, with the raw rows and the records.
        #[arg(long)]
        json: bool,
    },
    /// Sort the records of two files into the six categories of the
    /// synchronization window.
    Preview {
        #[arg(long, value_parser = parse_kind)]
        kind: Kind,
        /// Our side's file.
        #[arg(long)]
        ours: PathBuf,
        /// The other system's file.
        #[arg(long)]
        theirs: PathBuf,
        /// Links, deactivations, pending changes and rules (JSON; see the
        /// README).
        #[arg(long)]
        links: Option<PathBuf>,
        #[command(flatten)]
        read: ReadArgs,
        #[arg(long)]
        json: bool,
    },
    /// Change tracking between two exports of one data set: added, changed
    /// (with the fields), removed, unchanged.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long, value_parser = parse_kind)]
        kind: Kind,
        #[command(flatten)]
        read: ReadArgs,
        #[arg(long)]
        json: bool,
    },
}

/// Overrides of what the reader detects by itself.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// Encoding label, e.g. utf-8, windows-1252, utf-16le.
    #[arg(long)]
    encoding: Option<String>,
    /// Delimiter character (use "tab" for a tab).
    #[arg(long)]
    delimiter: Option<String>,
    /// The first row is data, not a header.
    #[arg(long)]
    no_header: bool,
    /// XLSX sheet name.
    #[arg(long)]
    sheet: Option<String>,
}

impl ReadArgs {
    fn options(&self) -> anyhow::Result<ReadOptions> {
        let delimiter = match self.delimiter.as_deref() {
            None => None,
            Some("tab" | "\\t") => Some('\t'),
            Some(d) if d.chars().count() == 1 => d.chars().next(),
            Some(d) => bail!("--delimiter takes one character or \"tab\", not {d:?}"),
        };
        Ok(ReadOptions {
            encoding: self.encoding.clone(),
            delimiter,
            has_header: self.no_header.then_some(false),
            sheet: self.sheet.clone(),
            ..ReadOptions::default()
        })
    }
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| format!("unknown kind {s}: use customer or employee"))
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is asked for, or read from standard input
    /// when that is not a terminal, unless --password is given.
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        password: Option<String>,
    },
    /// List users.
    List,
    /// Disable a user: they can no longer sign in and their sessions end.
    Disable { name: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("unknown role {s}: use admin or supervisor"))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve { addr: None }) {
        Command::Inspect {
            file,
            kind,
            read,
            json,
        } => inspect(&file, kind, &read, json),
        Command::Preview {
            kind,
            ours,
            theirs,
            links,
            read,
            json,
        } => preview(kind, &ours, &theirs, links.as_deref(), &read, json),
        Command::Diff {
            old,
            new,
            kind,
            read,
            json,
        } => diff(&old, &new, kind, &read, json),
        Command::Serve { addr } => {
            if let Some(a) = addr {
                config.addr = a;
            }
            crate::serve(config).await
        }
        Command::User { command } => {
            let store = Store::connect(&config).await?;
            let r = user_command(&store, &config, command).await;
            store.close().await;
            r
        }
    }
}

async fn user_command(store: &Store, config: &Config, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            role,
            password,
        } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let u = users::add(
                store,
                config.argon2_memory_kib,
                NewUser {
                    username: name,
                    role,
                    password,
                },
            )
            .await
            .map_err(describe)?;
            println!("Added {} ({}).", u.username, u.role.label());
        }
        UserCommand::List => {
            let list = users::list(store).await.map_err(describe)?;
            println!("{:<32} {:<14} status", "user", "role");
            for u in list {
                let status = if u.disabled { "disabled" } else { "active" };
                println!("{:<32} {:<14} {status}", u.username, u.role.label());
            }
        }
        UserCommand::Disable { name } => {
            let u = users::disable_by_name(store, &name)
                .await
                .map_err(describe)?;
            println!("Disabled {}.", u.username);
        }
    }
    Ok(())
}

/// Turns a service error into a sentence for the terminal.
fn describe(e: crate::error::AppError) -> anyhow::Error {
    let body = e.body();
    let mut msg = body.message;
    for f in body.fields {
        msg.push_str(&format!("\n  {}: {}", f.field, f.message));
    }
    if let crate::error::AppError::Database(cause) = &e {
        msg.push_str(&format!("\n  cause: {cause}"));
    }
    anyhow::anyhow!(msg)
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again = rpassword::prompt_password("Again: ").context("reading the password")?;
        if p != again {
            bail!("the two passwords differ");
        }
        Ok(p)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// Reads a whole input file, refusing one over the reader's size limit
/// before loading it.
fn read_input(path: &Path, options: &ReadOptions) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .len();
    if size > options.limits.max_file_bytes {
        bail!(
            "{} has {size} bytes; the limit is {} bytes",
            path.display(),
            options.limits.max_file_bytes
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// An input file read into memory, with the name messages use.
struct LoadedFile {
    name: String,
    bytes: Vec<u8>,
}

impl LoadedFile {
    fn load(path: &Path, options: &ReadOptions) -> anyhow::Result<LoadedFile> {
        Ok(LoadedFile {
            name: display_name(path),
            bytes: read_input(path, options)?,
        })
    }

    fn input(&self, options: &ReadOptions) -> InputFile<'_> {
        InputFile {
            name: &self.name,
            bytes: &self.bytes,
            options: options.clone(),
        }
    }
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let out = std::io::stdout();
    let mut lock = out.lock();
    serde_json::to_writer_pretty(&mut lock, value)?;
    use std::io::Write;
    writeln!(lock)?;
    Ok(())
}

fn inspect(file: &Path, kind: Kind, read: &ReadArgs, json: bool) -> anyhow::Result<()> {
    let options = read.options()?;
    let file = LoadedFile::load(file, &options)?;
    let name = &file.name;
    let out = cli_output::inspect(&file.bytes, Some(name), kind, &options)?;
    if json {
        return print_json(&out);
    }
    println!("file:      {name}");
    println!("format:    {:?}", out.format);
    if let Some(e) = &out.encoding {
        println!("encoding:  {e}");
    }
    if let Some(d) = &out.delimiter {
        println!("delimiter: {}", if d == "\t" { "tab" } else { d });
    }
    if let Some(s) = &out.sheet {
        println!("sheet:     {s} (of {})", out.sheets.join(", "));
    }
    println!(
        "header:    {}",
        if out.has_header {
            out.header.join(" | ")
        } else {
            "(none)".into()
        }
    );
    println!("mapping:");
    for m in &out.mapping {
        println!("  {}", serde_json::to_string(m)?);
    }
    for u in &out.unmapped {
        println!("  unmapped: {}", serde_json::to_string(u)?);
    }
    println!(
        "rows:      {} ({} records, {} row errors, {} blank lines skipped)",
        out.row_count,
        out.record_count,
        out.errors.len(),
        out.blank_rows
    );
    for e in &out.errors {
        println!("  line {}: {}", e.line, e.reason);
    }
    for n in &out.notes {
        println!("note: {n}");
    }
    Ok(())
}

fn preview(
    kind: Kind,
    ours: &Path,
    theirs: &Path,
    links: Option<&Path>,
    read: &ReadArgs,
    json: bool,
) -> anyhow::Result<()> {
    let options = read.options()?;
    let (ours, theirs) = (
        LoadedFile::load(ours, &options)?,
        LoadedFile::load(theirs, &options)?,
    );
    let links_bytes = links
        .map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())))
        .transpose()?;
    let out = cli_output::preview(
        kind,
        &ours.input(&options),
        &theirs.input(&options),
        links_bytes.as_deref(),
    )?;
    let (ours_name, theirs_name) = (&ours.name, &theirs.name);
    if json {
        return print_json(&out);
    }
    let sections = [
        ("Synchronization conflicts", &out.conflicts),
        ("New", &out.new),
        ("Deleted", &out.deleted),
        ("Synchronization deactivated", &out.deactivated),
        ("Synchronized", &out.synchronized),
        ("Inactive", &out.inactive),
    ];
    for (title, s) in sections {
        println!("{title:<28} {:>8}", s.count);
    }
    let errors = out.errors.ours.len() + out.errors.theirs.len();
    if errors > 0 {
        println!(
            "row errors: {} in {ours_name}, {} in {theirs_name}",
            out.errors.ours.len(),
            out.errors.theirs.len()
        );
    }
    Ok(())
}

fn diff(old: &Path, new: &Path, kind: Kind, read: &ReadArgs, json: bool) -> anyhow::Result<()> {
    let options = read.options()?;
    let (old, new) = (
        LoadedFile::load(old, &options)?,
        LoadedFile::load(new, &options)?,
    );
    let out = cli_output::diff(
        kind,
        &old.input(&options),
        &new.input(&options),
        &NumberRules::default(),
    )?;
    if json {
        return print_json(&out);
    }
    fn count<T>(s: &Section<T>) -> u32 {
        s.count
    }
    println!("added:     {}", count(&out.added));
    println!("changed:   {}", count(&out.changed));
    for c in &out.changed.rows {
        let fields: Vec<String> = c
            .fields
            .iter()
            .map(|f| {
                format!(
                    "{}: {:?} -> {:?}",
                    serde_json::to_value(f.field)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("?"),
                    f.before,
                    f.after
                )
            })
            .collect();
        println!("  {} {}: {}", c.number, c.name, fields.join("; "));
    }
    println!("removed:   {}", count(&out.removed));
    println!("unchanged: {}", count(&out.unchanged));
    if out.duplicates.count > 0 {
        println!("skipped (multiple matches): {}", out.duplicates.count);
    }
    Ok(())
}
