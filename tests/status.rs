//! `confpack status` on a sandboxed node with the real apt and dpkg, in
//! each state: matching (exit 0), an edited rendered file, an edited
//! packaged file, an open conflict, an older installed version than
//! published, a user question without an answer (all exit 9, named).

use crate::build::{Repo, build_ok};
use crate::runtime::{Node, apt_and_keyring, bootstrap, role, write_alpha_beta, write_ask};

/// `status --format json`, parsed, with the exit code.
fn status_json(node: &Node) -> (i32, serde_json::Value) {
    let (code, stdout, stderr) = node.confpack(&["status", "--format", "json"]);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("status json: {e}\n{stdout}\n{stderr}"));
    (code, json)
}

fn status_text(node: &Node) -> (i32, String) {
    let (code, stdout, stderr) = node.confpack(&["status"]);
    (code, format!("{stdout}{stderr}"))
}

#[test]
fn status_tells_whether_the_node_matches_its_environment() {
    let Some(keyring) = apt_and_keyring() else {
        return;
    };
    let mut repo = Repo::new();
    write_alpha_beta(&mut repo);
    write_ask(&mut repo);
    repo.commit("role v1");
    let node = Node::new();
    let published = bootstrap(&repo, &keyring, &node);
    node.ok(&["install", "node"]);

    // Matching: exit 0, and the json has its documented keys.
    let (code, text) = status_text(&node);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("environment: master") && text.contains("the node matches"),
        "{text}"
    );
    let (code, json) = status_json(&node);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["matches"], true);
    assert_eq!(json["environment"], "master");
    assert_eq!(json["repository"], published.server.url.as_str());
    assert_eq!(json["repository_environment"], "master");
    assert_eq!(json["index_fetched"], true);
    assert_eq!(json["rollback_pin"], false);
    for key in ["conflicts", "drift", "kept", "unanswered", "problems"] {
        assert_eq!(json[key], serde_json::json!([]), "{key}: {json}");
    }
    let packages = json["packages"].as_array().expect("packages");
    let alpha = packages
        .iter()
        .find(|p| p["name"] == "alpha")
        .expect("alpha listed");
    assert_eq!(alpha["installed"], alpha["published"]);
    assert_eq!(alpha["outdated"], false);
    assert!(alpha["pinned"].is_null());

    // An edited rendered file: drift, exit 9, named.
    let alpha_conf = node.file("/etc/alpha.conf");
    let original = node.read("/etc/alpha.conf");
    std::fs::write(&alpha_conf, "greeting = edited\n").expect("edit");
    let (code, text) = status_text(&node);
    assert_eq!(code, 9, "{text}");
    assert!(
        text.contains("modified rendered file /etc/alpha.conf (alpha)")
            && text.contains("does not match"),
        "{text}"
    );
    std::fs::remove_file(&alpha_conf).expect("remove");
    let (code, json) = status_json(&node);
    assert_eq!(code, 9);
    assert_eq!(json["drift"][0]["state"], "missing", "{json}");
    std::fs::write(&alpha_conf, &original).expect("restore");

    // An edited packaged file: dpkg's md5sum differs.
    std::fs::write(node.file("/etc/beta.conf"), "edited\n").expect("edit");
    let (code, json) = status_json(&node);
    assert_eq!(code, 9, "{json}");
    assert_eq!(
        json["drift"],
        serde_json::json!([{"package": "beta", "path": "/etc/beta.conf",
            "kind": "packaged", "state": "modified"}])
    );
    std::fs::write(node.file("/etc/beta.conf"), "beta\n").expect("restore");
    assert_eq!(node.confpack(&["status"]).0, 0);

    // An open conflict: listed with both values, a secret masked.
    node.ok(&["set", "alpha/greeting", "mine", "--source", "user"]);
    node.ok(&["configure", "--package", "alpha"]);
    let (code, json) = status_json(&node);
    assert_eq!(code, 9, "{json}");
    let conflict = &json["conflicts"][0];
    assert_eq!(conflict["key"], "alpha/greeting", "{json}");
    assert_eq!(conflict["document"], "hello from master");
    assert_eq!(conflict["stored"], "mine");
    assert!(conflict["since"].as_str().is_some_and(|s| s.ends_with('Z')));
    node.ok(&[
        "set",
        "--secret",
        "alpha/greeting",
        "hidden",
        "--source",
        "user",
    ]);
    node.ok(&["configure", "--package", "alpha"]);
    let (code, text) = status_text(&node);
    assert_eq!(code, 9, "{text}");
    assert!(
        text.contains("alpha/greeting") && !text.contains("hidden") && text.contains("********"),
        "a secret conflict is masked:\n{text}"
    );
    node.ok(&["configure", "--package", "alpha", "--take-document-all"]);
    let (code, text) = status_text(&node);
    assert_eq!(code, 0, "{text}");

    // An older installed version than published.
    repo.write("roles/node.yml", &role("2", "alpha, beta"));
    repo.commit("role v2");
    let v2 = repo.path("../v2");
    build_ok(&repo.path("."), &v2, &["--no-dependency-check"]);
    keyring.publish(&published.repository, "master", &[&v2]);
    node.ok(&["update"]);
    let (code, json) = status_json(&node);
    assert_eq!(code, 9, "{json}");
    let role = json["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "node")
        .cloned()
        .expect("the role is listed");
    assert_eq!(role["outdated"], true, "{json}");
    assert!(
        role["installed"]
            .as_str()
            .is_some_and(|v| v.starts_with("1+git"))
            && role["published"]
                .as_str()
                .is_some_and(|v| v.starts_with("2+git")),
        "{role}"
    );
    node.ok(&["upgrade"]);
    let (code, text) = status_text(&node);
    assert_eq!(code, 0, "{text}");

    // A user question without an answer: the unattended install stops
    // (exit 3); status names the question.
    let (code, _, stderr) = node.confpack(&["install", "ask"]);
    assert_eq!(code, 3, "{stderr}");
    let (code, json) = status_json(&node);
    assert_eq!(code, 9, "{json}");
    assert_eq!(
        json["unanswered"],
        serde_json::json!([{"package": "ask", "key": "ask/name"}])
    );
}
