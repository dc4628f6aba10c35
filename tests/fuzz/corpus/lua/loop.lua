function run() while true do end end
