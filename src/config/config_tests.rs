use super::*;

#[test]
fn app_armor_flag_values() {
    let cases = [
        ("", Ok(AppArmor::Unset)),
        ("runtime-default", Ok(AppArmor::RuntimeDefault)),
        ("unconfined", Ok(AppArmor::Unconfined)),
        (
            "localhost/openshell-agent",
            Ok(AppArmor::Localhost("openshell-agent".into())),
        ),
        ("localhost/", Err(())),
        ("RuntimeDefault", Err(())),
        ("permissive", Err(())),
    ];
    for (text, want) in cases {
        assert_eq!(parse_app_armor(text).map_err(|_| ()), want, "{text:?}");
    }
}
