-- wrk: GET with the header in WRK_AUTH (if any).
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
