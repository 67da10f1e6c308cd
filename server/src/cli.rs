//! The command line of the `partnersync` binary. Each command parses its
//! arguments and calls the same service functions as the REST API.

use std::io::{BufRead, IsTerminal};
use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sync::protocol::{NewUser, Role};

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
