//! Bindings and exports for reqflo's built-in request hooks.
//!
//! A hook is one type implementing [`Hook`], exported with [`export_hook!`];
//! it implements the `request-hook` world of `reqflo:plugin@0.2.0`
//! (`wit/0.2.0/reqflo-plugin.wit`).
//!
//! Why not plain `wit_bindgen::generate!`: wit-bindgen 0.63 generates Rust
//! that does not compile for an export taking a list of borrowed handles
//! (bytecodealliance/wit-bindgen#811), which `on-request` does. So the
//! bindings here skip `on-request` and [`export_hook!`] exports it by hand,
//! lifting its arguments as the canonical ABI lays them out.

pub mod config;
pub mod testing;

/// The generated bindings (everything but the `on-request` export).
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/0.2.0",
        world: "request-hook",
        skip: ["on-request"],
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "$crate::bindings",
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::reqflo::plugin::request::{
    ClientAuth, ClientCredentials, Encoding, Error, Outgoing, hmac_sha256,
    oauth2_client_credentials,
};
pub use bindings::reqflo::plugin::secrets::Secret;

/// A request hook: configured once per run, then called before each request
/// of the steps it is attached to.
pub trait Hook: Sized {
    /// Build the hook from its `config:` map (values as strings). Unknown keys
    /// and malformed values are `Error::Invalid`, naming the key.
    fn configure(config: Vec<(String, String)>) -> Result<Self, Error>;

    /// Edit `request`, with the secrets granted to the hook, by name.
    fn on_request(
        &mut self,
        request: &Outgoing,
        secrets: &[(String, &Secret)],
    ) -> Result<(), Error>;
}

/// What [`export_hook!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    use super::{Error, Hook, Outgoing, Secret};
    use std::cell::RefCell;
    use std::marker::PhantomData;
    use std::mem::MaybeUninit;
    use std::thread::LocalKey;

    pub use crate::bindings::export_bindings;
    pub use crate::bindings::exports::reqflo::plugin::hook::Guest;

    /// A hook type and the thread-local cell that holds it from `configure`
    /// on. The cell is declared where the hook's type is known, by
    /// [`export_hook!`], since a static cannot be generic.
    pub trait Held: Hook + 'static {
        /// The cell.
        fn cell() -> &'static LocalKey<RefCell<Option<Self>>>;
    }

    /// The `hook` export of a hook of type `H`.
    pub struct Export<H>(PhantomData<H>);

    impl<H: Held> Guest for Export<H> {
        fn configure(config: Vec<(String, String)>) -> Result<(), Error> {
            let hook = H::configure(config)?;
            H::cell().with(|cell| *cell.borrow_mut() = Some(hook));
            Ok(())
        }
    }

    /// The return area of `on-request`: a `result<_, error>` is a tag byte,
    /// then (at pointer alignment) the error's tag byte and its string.
    #[repr(C, align(8))]
    struct RetArea([MaybeUninit<u8>; 4 * size_of::<*const u8>()]);

    static mut RET_AREA: RetArea = RetArea([MaybeUninit::uninit(); 4 * size_of::<*const u8>()]);

    /// The core-wasm export `reqflo:plugin/hook@0.2.0#on-request`.
    ///
    /// # Safety
    /// Only the component's canonical ABI calls this, with `request` a borrowed
    /// `outgoing` handle and `list`/`len` a list of `(string, borrow<secret>)`
    /// it allocated with `cabi_realloc`.
    pub unsafe fn on_request<H: Held>(request: i32, list: *mut u8, len: usize) -> *mut u8 {
        #[cfg(target_arch = "wasm32")]
        wit_bindgen::rt::run_ctors_once();
        let elem = 3 * size_of::<*const u8>();
        // Owning wrappers of the borrowed handles: dropping them before we
        // return ends the borrows, as the canonical ABI requires.
        let outgoing = unsafe { Outgoing::from_handle(request as u32) };
        let mut names = Vec::with_capacity(len);
        let mut handles = Vec::with_capacity(len);
        for i in 0..len {
            unsafe {
                let base = list.add(i * elem);
                let ptr = *base.cast::<*mut u8>();
                let n = *base.add(size_of::<*const u8>()).cast::<usize>();
                let handle = *base.add(2 * size_of::<*const u8>()).cast::<i32>();
                let bytes = Vec::from_raw_parts(ptr, n, n);
                // The host sends names from reqflo.yaml, which are UTF-8.
                names.push(String::from_utf8_lossy(&bytes).into_owned());
                handles.push(Secret::from_handle(handle as u32));
            }
        }
        if len > 0 {
            unsafe {
                let layout = std::alloc::Layout::from_size_align_unchecked(
                    len * elem,
                    size_of::<*const u8>(),
                );
                std::alloc::dealloc(list, layout);
            }
        }
        let secrets: Vec<(String, &Secret)> = names.into_iter().zip(handles.iter()).collect();
        let result = H::cell().with(|c| match c.borrow_mut().as_mut() {
            Some(hook) => hook.on_request(&outgoing, &secrets),
            None => Err(Error::Invalid(
                "on-request was called before configure".into(),
            )),
        });
        drop(secrets);
        drop(handles);
        drop(outgoing);

        let ret = (&raw mut RET_AREA).cast::<u8>();
        unsafe {
            match result {
                Ok(()) => *ret = 0,
                Err(e) => {
                    *ret = 1;
                    let (tag, message) = match e {
                        Error::Denied(m) => (0u8, m),
                        Error::Invalid(m) => (1u8, m),
                        Error::Unavailable(m) => (2u8, m),
                    };
                    let bytes = message.into_bytes().into_boxed_slice();
                    let n = bytes.len();
                    let ptr = Box::into_raw(bytes).cast::<u8>();
                    *ret.add(size_of::<*const u8>()) = tag;
                    *ret.add(2 * size_of::<*const u8>()).cast::<*mut u8>() = ptr;
                    *ret.add(3 * size_of::<*const u8>()).cast::<usize>() = n;
                }
            }
        }
        ret
    }

    /// The core-wasm export `cabi_post_reqflo:plugin/hook@0.2.0#on-request`:
    /// frees the error string [`on_request`] returned.
    ///
    /// # Safety
    /// Only the canonical ABI calls this, with what `on_request` returned.
    pub unsafe fn post_return(ret: *mut u8) {
        unsafe {
            if *ret != 0 {
                let ptr = *ret.add(2 * size_of::<*const u8>()).cast::<*mut u8>();
                let n = *ret.add(3 * size_of::<*const u8>()).cast::<usize>();
                if n > 0 {
                    let layout = std::alloc::Layout::from_size_align_unchecked(n, 1);
                    std::alloc::dealloc(ptr, layout);
                }
            }
        }
    }
}

/// Export a [`Hook`] as the component's `reqflo:plugin/hook`.
///
/// Use it once, at the top level of the hook's crate (a `cdylib`). The hook is
/// created by [`Hook::configure`] and lives, in a thread-local cell, for as
/// long as the host keeps the sandbox: one run.
#[macro_export]
macro_rules! export_hook {
    ($hook:ty) => {
        // The cell that holds the hook for the run (a static cannot be
        // generic, so it is declared here, where the type is known).
        const _: () = {
            ::std::thread_local! {
                static __REQFLO_HOOK: ::core::cell::RefCell<::core::option::Option<$hook>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            impl $crate::__private::Held for $hook {
                fn cell() -> &'static ::std::thread::LocalKey<
                    ::core::cell::RefCell<::core::option::Option<$hook>>,
                > {
                    &__REQFLO_HOOK
                }
            }
        };

        // Natively (unit tests) there is no component to export, and the
        // export names would not even link; only keep the hook "used".
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn(
            ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
        ) -> ::core::result::Result<(), $crate::Error> =
            <$crate::__private::Export<$hook> as $crate::__private::Guest>::configure;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            // wit-bindgen's export macro takes a name, not a type.
            type __ReqfloExport = $crate::__private::Export<$hook>;

            $crate::__private::export_bindings!(
                __ReqfloExport with_types_in $crate::bindings
            );

            #[unsafe(export_name = "reqflo:plugin/hook@0.2.0#on-request")]
            unsafe extern "C" fn __reqflo_on_request(
                request: i32,
                list: *mut u8,
                len: usize,
            ) -> *mut u8 {
                unsafe { $crate::__private::on_request::<$hook>(request, list, len) }
            }

            #[unsafe(export_name = "cabi_post_reqflo:plugin/hook@0.2.0#on-request")]
            unsafe extern "C" fn __reqflo_on_request_post_return(ret: *mut u8) {
                unsafe { $crate::__private::post_return(ret) }
            }
        };
    };
}
