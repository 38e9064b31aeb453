use prost::Message;

use super::*;

fn sandbox(id: &str) -> DriverSandbox {
    DriverSandbox {
        id: id.into(),
        name: format!("name-{id}"),
        workspace: "default".into(),
        ..Default::default()
    }
}

/// The generated message's wire form, from field 1's definition: repeated length-delimited
/// DriverSandbox records.
fn generated_wire(sandboxes: &[DriverSandbox]) -> Vec<u8> {
    let mut buf = Vec::new();
    for s in sandboxes {
        let body = s.encode_to_vec();
        buf.push(0x0a); // field 1, wire type 2
        prost::encoding::encode_varint(body.len() as u64, &mut buf);
        buf.extend(body);
    }
    buf
}

#[test]
fn kept_entries_are_the_wire_form_of_the_generated_message() {
    let all = [sandbox("a"), sandbox("b"), sandbox("c")];
    let cases = [
        ("all as messages", all.to_vec(), vec![]),
        ("all kept as bytes", vec![], all.iter().map(encode_entry).collect()),
        (
            "mixed",
            vec![all[0].clone()],
            all[1..].iter().map(encode_entry).collect(),
        ),
        ("empty", vec![], vec![]),
    ];
    for (what, sandboxes, encoded) in cases {
        let response = ListSandboxesResponse { sandboxes, encoded };
        let wire = response.encode_to_vec();
        let want = if what == "empty" { vec![] } else { generated_wire(&all) };
        assert_eq!(wire, want, "{what}");
        assert_eq!(response.encoded_len(), wire.len(), "{what}: encoded_len");
        let decoded = ListSandboxesResponse::decode(wire.as_slice()).expect("decodes");
        assert_eq!(
            decoded.sandboxes,
            if what == "empty" { vec![] } else { all.to_vec() },
            "{what}"
        );
        assert!(decoded.encoded.is_empty());
    }
}

#[test]
fn json_shows_kept_entries_as_sandboxes() {
    let response = ListSandboxesResponse {
        sandboxes: vec![sandbox("a")],
        encoded: vec![encode_entry(&sandbox("b"))],
    };
    let json = serde_json::to_value(&response).expect("json");
    let ids: Vec<_> = json["sandboxes"]
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    let back: ListSandboxesResponse = serde_json::from_value(json).expect("reads back");
    assert_eq!(back.sandboxes.len(), 2);
    assert!(
        serde_json::from_str::<ListSandboxesResponse>(r#"{"sandbox": []}"#).is_err(),
        "unknown field"
    );
}
