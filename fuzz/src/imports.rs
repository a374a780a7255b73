//! The importers: any input is imported or refused with a reason, never a
//! panic; what an import writes always loads as a template and a journey.

use reqflo_core::project::model::{JourneyFile, TemplateFile};

/// Fuzz target `import_curl`.
pub fn curl(data: &[u8]) {
    let command = String::from_utf8_lossy(data);
    let Ok(imported) = reqflo_core::import::curl::import(&command, "imported") else {
        return;
    };
    if let Err(e) = serde_yaml::from_str::<TemplateFile>(&imported.template) {
        panic!("the template does not load: {e}\n{}", imported.template);
    }
    if let Err(e) = serde_yaml::from_str::<JourneyFile>(&imported.journey) {
        panic!("the journey does not load: {e}\n{}", imported.journey);
    }
}

/// Fuzz target `import_hurl`.
pub fn hurl(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    loads(reqflo_core::import::hurl::import(&text, "imported"));
}

/// Fuzz target `import_postman`.
pub fn postman(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    loads(reqflo_core::import::postman::import(&text, "imported"));
}

/// Fuzz target `import_openapi`.
pub fn openapi(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    loads(reqflo_core::import::openapi::import(&text, "imported"));
}

/// What a file import wrote loads as templates and a journey.
fn loads(imported: Result<reqflo_core::import::ImportedFiles, String>) {
    let Ok(imported) = imported else {
        return;
    };
    for (name, template) in &imported.templates {
        if let Err(e) = serde_yaml::from_str::<TemplateFile>(template) {
            panic!("template {name} does not load: {e}\n{template}");
        }
    }
    if let Err(e) = serde_yaml::from_str::<JourneyFile>(&imported.journey) {
        panic!("the journey does not load: {e}\n{}", imported.journey);
    }
}
