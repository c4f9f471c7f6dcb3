//! Which environment and machine this run configures.
//!
//! `--machine IP|HOSTNAME` wins; otherwise this host's interface addresses
//! and host names are matched *exactly* against the document's machines
//! (the bash implementation grepped for the IP, so 10.0.0.1 matched
//! 10.0.0.17). Loopback addresses and `localhost` never match
//! automatically: every host has them. No match → the environment named by
//! `--environment` or stored by an earlier run, without a machine.

use std::net::IpAddr;

use crate::env::model::{Document, Environment, Machine};
use crate::error::{Error, Result};

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// `--machine`.
    pub machine: Option<String>,
    /// `--environment` (wins over `stored_environment`).
    pub environment: Option<String>,
    /// The environment an earlier run (or `set-environment`) stored.
    pub stored_environment: Option<String>,
    /// This host's addresses and names (empty when `machine` is given).
    pub host_identities: Vec<String>,
}

/// The result: an environment and, usually, one of its machines.
#[derive(Debug, Clone)]
pub struct Selection {
    pub environment: Environment,
    pub machine: Option<Machine>,
}

impl Selection {
    pub fn describe(&self) -> String {
        match &self.machine {
            Some(machine) => format!(
                "environment {}, machine {}",
                self.environment.context,
                machine.label()
            ),
            None => format!(
                "environment {} (no machine entry)",
                self.environment.context
            ),
        }
    }

    /// The document's values for this selection: the environment's,
    /// overridden by the machine's own.
    pub fn configured_values(
        &self,
        document: &Document,
    ) -> std::collections::BTreeMap<String, String> {
        let mut values = std::collections::BTreeMap::new();
        let machine_values = self.machine.iter().flat_map(|m| m.values.iter());
        for value in self.environment.values.iter().chain(machine_values) {
            let key = document.templates[value.template as usize].key.clone();
            values.insert(key, value.value.to_string());
        }
        values
    }

    /// The values for other packages' debconf questions (`<debconf>`):
    /// the machine's over the environment's.
    pub fn debconf_values(&self) -> std::collections::BTreeMap<String, String> {
        let machine_values = self.machine.iter().flat_map(|m| m.debconf.iter());
        self.environment
            .debconf
            .iter()
            .chain(machine_values)
            .map(|value| (value.key.clone(), value.value.clone()))
            .collect()
    }
}

/// This host's identities: non-loopback interface addresses, the host name
/// and, from /etc/hosts, its fully qualified name. No DNS lookups.
pub fn host_identities() -> Vec<String> {
    let mut identities = Vec::new();
    if let Ok(interfaces) = if_addrs::get_if_addrs() {
        for interface in interfaces {
            let ip = interface.ip();
            if !ip.is_loopback() {
                identities.push(ip.to_string());
            }
        }
    }
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    if !hostname.is_empty() && hostname != "localhost" {
        identities.push(hostname.clone());
        if let Ok(hosts) = std::fs::read_to_string("/etc/hosts") {
            for line in hosts.lines() {
                let line = line.split('#').next().unwrap_or_default();
                let mut fields = line.split_whitespace();
                let Some(address) = fields.next() else {
                    continue;
                };
                let names: Vec<&str> = fields.collect();
                if address.parse::<IpAddr>().is_ok()
                    && names.iter().any(|n| n.eq_ignore_ascii_case(&hostname))
                {
                    identities.extend(
                        names
                            .iter()
                            .filter(|n| n.contains('.') && !n.starts_with("localhost"))
                            .map(|n| n.to_string()),
                    );
                }
            }
        }
    }
    identities.sort();
    identities.dedup();
    identities
}

impl Selector {
    fn wanted_environment(&self) -> Option<&str> {
        self.environment
            .as_deref()
            .or(self.stored_environment.as_deref())
    }

    fn identities(&self) -> Vec<&str> {
        match &self.machine {
            Some(machine) => vec![machine.as_str()],
            None => self.host_identities.iter().map(String::as_str).collect(),
        }
    }

    /// Whether the reader should keep `environment` whole.
    pub fn retains(&self, environment: &Environment) -> bool {
        if self.wanted_environment() == Some(environment.context.as_str()) {
            return true;
        }
        let identities = self.identities();
        environment
            .machines
            .iter()
            .any(|m| identities.iter().any(|id| m.is(id)))
    }

    /// Picks the environment and machine from a document read with
    /// [`Selector::retains`].
    pub fn select(&self, document: &Document) -> Result<Selection> {
        let identities = self.identities();
        let restrict = self.environment.as_deref();
        let mut matches: Vec<(&Environment, &Machine)> = Vec::new();
        for environment in &document.environments {
            if restrict.is_some_and(|r| r != environment.context) {
                continue;
            }
            for machine in &environment.machines {
                if identities.iter().any(|id| machine.is(id)) {
                    matches.push((environment, machine));
                }
            }
        }
        if let Some(context) = restrict
            && !document.contexts.iter().any(|c| c == context)
        {
            return Err(Error::Selection(format!(
                "{}: there is no environment {context}; environments: {}",
                document.origin,
                document.contexts.join(", ")
            )));
        }
        match matches.as_slice() {
            [(environment, machine)] => {
                return Ok(Selection {
                    environment: (*environment).clone(),
                    machine: Some((*machine).clone()),
                });
            }
            [] => {}
            several => {
                let listed: Vec<String> = several
                    .iter()
                    .map(|(e, m)| format!("  {}: {} (line {})", e.context, m.label(), m.line))
                    .collect();
                return Err(Error::Selection(format!(
                    "{}: this host matches {} machines:\n{}\npass --machine IP|HOSTNAME (and --environment CONTEXT) to choose one",
                    document.origin,
                    several.len(),
                    listed.join("\n")
                )));
            }
        }
        if let Some(machine) = &self.machine {
            return Err(Error::Selection(format!(
                "{}: no machine {machine}{} (matched exactly, by IP or host name); {}",
                document.origin,
                restrict
                    .map(|r| format!(" in environment {r}"))
                    .unwrap_or_default(),
                list_machines(document)
            )));
        }
        if let Some(context) = self.wanted_environment()
            && let Some(environment) = document.environments.iter().find(|e| e.context == context)
        {
            return Ok(Selection {
                environment: environment.clone(),
                machine: None,
            });
        }
        Err(Error::Selection(format!(
            "{}: this host ({}) is none of the document's machines and no environment was chosen; \
             pass --machine IP|HOSTNAME or --environment CONTEXT; {}",
            document.origin,
            if self.host_identities.is_empty() {
                "no addresses found".to_string()
            } else {
                self.host_identities.join(", ")
            },
            list_machines(document)
        )))
    }
}

fn list_machines(document: &Document) -> String {
    const SHOWN: usize = 20;
    if document.machines.is_empty() {
        return "the document lists no machines".to_string();
    }
    let mut lines: Vec<String> = document
        .machines
        .iter()
        .take(SHOWN)
        .map(|m| format!("  {}: {}", m.context, m.label))
        .collect();
    if document.machines.len() > SHOWN {
        lines.push(format!("  … and {} more", document.machines.len() - SHOWN));
    }
    format!("machines:\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::model::MachineSummary;

    fn machine(ip: &str, hostname: &str) -> Machine {
        Machine {
            ip_text: ip.into(),
            ip: ip.parse().ok(),
            hostname: Some(hostname.into()),
            values: vec![],
            debconf: Vec::new(),
            line: 1,
        }
    }

    fn document() -> Document {
        let mut document = Document::new("doc.xml");
        for (context, machines) in [
            (
                "prod",
                vec![
                    machine("10.0.0.1", "a.prod"),
                    machine("10.0.0.17", "b.prod"),
                ],
            ),
            ("test", vec![machine("10.0.1.1", "a.test")]),
        ] {
            for m in &machines {
                document.machines.push(MachineSummary {
                    context: context.into(),
                    label: m.label(),
                });
            }
            document.contexts.push(context.into());
            document.environments.push(Environment {
                context: context.into(),
                values: vec![],
                debconf: Vec::new(),
                machines,
                line: 1,
            });
        }
        document
    }

    #[test]
    fn machine_is_matched_exactly_not_by_substring() {
        let selector = Selector {
            host_identities: vec!["10.0.0.17".into()],
            ..Selector::default()
        };
        let selection = selector.select(&document()).expect("select");
        assert_eq!(
            selection.machine.expect("machine").hostname.as_deref(),
            Some("b.prod")
        );
    }

    #[test]
    fn explicit_machine_by_hostname() {
        let selector = Selector {
            machine: Some("a.test".into()),
            host_identities: vec!["10.0.0.1".into()],
            ..Selector::default()
        };
        let selection = selector.select(&document()).expect("select");
        assert_eq!(selection.environment.context, "test");
    }

    #[test]
    fn no_match_falls_back_to_the_chosen_environment() {
        let selector = Selector {
            host_identities: vec!["192.0.2.9".into()],
            stored_environment: Some("test".into()),
            ..Selector::default()
        };
        let selection = selector.select(&document()).expect("select");
        assert_eq!(selection.environment.context, "test");
        assert!(selection.machine.is_none());
    }

    #[test]
    fn no_match_and_no_environment_lists_the_machines() {
        let selector = Selector {
            host_identities: vec!["192.0.2.9".into()],
            ..Selector::default()
        };
        let message = selector
            .select(&document())
            .expect_err("no match")
            .to_string();
        assert!(message.contains("10.0.0.17 (b.prod)"), "{message}");
        assert!(message.contains("--machine"), "{message}");
    }

    #[test]
    fn a_host_matching_two_machines_is_ambiguous() {
        let selector = Selector {
            host_identities: vec!["10.0.0.1".into(), "a.test".into()],
            ..Selector::default()
        };
        let message = selector
            .select(&document())
            .expect_err("ambiguous")
            .to_string();
        assert!(message.contains("matches 2 machines"), "{message}");
    }

    #[test]
    fn unknown_environment_is_named() {
        let selector = Selector {
            environment: Some("nope".into()),
            ..Selector::default()
        };
        let message = selector
            .select(&document())
            .expect_err("unknown")
            .to_string();
        assert!(message.contains("no environment nope"), "{message}");
    }

    #[test]
    fn a_machine_debconf_value_wins_over_its_environments() {
        use crate::env::model::ForeignValue;
        let value = |key: &str, value: &str| ForeignValue {
            key: key.into(),
            value: value.into(),
            line: 1,
        };
        let mut machine = machine("10.0.0.1", "mx1.example.com");
        machine.debconf = vec![value("postfix/mailname", "mx1.example.com")];
        let selection = Selection {
            environment: Environment {
                context: "production".into(),
                values: Vec::new(),
                debconf: vec![
                    value("postfix/mailname", "example.com"),
                    value("postfix/main_mailer_type", "Internet Site"),
                ],
                machines: Vec::new(),
                line: 1,
            },
            machine: Some(machine),
        };
        let values = selection.debconf_values();
        assert_eq!(values["postfix/mailname"], "mx1.example.com");
        assert_eq!(values["postfix/main_mailer_type"], "Internet Site");
    }
}
